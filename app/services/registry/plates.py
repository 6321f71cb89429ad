"""QR door plates (标准地址二维码门牌) as a print-ready PDF, in the standard's three sizes.

GB 17733 style: a blue ground with white text, the address large on the left, the QR code on the
right on a white square (its quiet zone), a one-line instruction and the issuing authority. The
QR (vector squares, sharp at any size) encodes PUBLIC_BASE_URL + /h5/a/<qr_token>, or what the
caller's `qr_target` returns (in production a WeChat parametric QR whose scan event replies
with that link and invites the landlord to follow the account).
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Callable

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from sqlalchemy import select

from app.extensions import db
from app.models import Address, Branch, Community, Officer, utcnow
from app.services.accounts import audit, scoping

CID_FONT = "STSong-Light"  # reportlab's built-in CID font: the fallback when no font file exists
# TrueType CJK fonts from Debian's packages (reportlab cannot embed the CFF outlines of Noto CJK).
CJK_FONT_FILES = (
    ("WenQuanYiMicroHei", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),  # fonts-wqy-microhei
    ("WenQuanYiZenHei", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),  # fonts-wqy-zenhei
    ("ARPLUMing", "/usr/share/fonts/truetype/arphic/uming.ttc"),  # fonts-arphic-uming
)
LATIN_FONT = "Helvetica"
MAX_PLATES = 2000
HEADING = "标准地址二维码门牌"
INSTRUCTION = "微信扫码申报出租房屋"
PLATE_BLUE = (0.0, 0.29, 0.62)  # the blue ground of GB 17733 street and door plates
WHITE = (1, 1, 1)


@dataclass(frozen=True)
class PlateSize:
    label: str
    qr_mm: float  # the white square: the code with its quiet zone
    width_mm: float
    height_mm: float
    columns: int
    rows: int
    address_pt: float
    text_pt: float
    code_pt: float
    landscape: bool = False
    gap_mm: float = 4

    @property
    def per_page(self) -> int:
        return self.columns * self.rows


PLATE_SIZES = {
    "large": PlateSize("大号（二维码 120 毫米）", 120, 277, 150, 1, 1, 40, 20, 11, landscape=True),
    "medium": PlateSize("中号（二维码 75 毫米）", 75, 190, 88, 1, 3, 24, 13, 8),
    "small": PlateSize("小号（二维码 40 毫米）", 40, 100, 46, 2, 6, 13, 7.5, 5.5, gap_mm=3),
}


class PlateError(ValueError):
    """The plate request cannot be served; the message is shown in Chinese."""


def plate_url(base_url: str, address: Address) -> str:
    """The H5 entry URL a plate's QR code encodes."""
    return f"{base_url.rstrip('/')}/h5/a/{address.qr_token}"


def _font() -> str:
    """A CJK font: a Debian TrueType font when installed, else reportlab's CID font."""
    registered = pdfmetrics.getRegisteredFontNames()
    for name, path in CJK_FONT_FILES:
        if name in registered:
            return name
        if os.path.exists(path):
            try:
                pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
                return name
            except Exception:  # noqa: BLE001 - an unreadable font file: try the next one
                continue
    if CID_FONT not in registered:
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    return CID_FONT


def _draw_qr(pdf: canvas.Canvas, data: str, x: float, y: float, side: float) -> None:
    """The code on a white square of `side`, a 4-module quiet zone inside it."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    qr.add_data(data)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    n = len(matrix)
    cell = side / (n + 8)
    pdf.setFillColorRGB(*WHITE)
    pdf.rect(x, y, side, side, stroke=0, fill=1)
    pdf.setFillColorRGB(0, 0, 0)
    ox, oy = x + 4 * cell, y + 4 * cell
    inner = n * cell
    path = pdf.beginPath()
    for r, row in enumerate(matrix):
        c = 0
        while c < n:  # one rectangle per horizontal run of dark modules keeps the PDF small
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                path.rect(ox + start * cell, oy + inner - (r + 1) * cell, (c - start) * cell, cell)
            else:
                c += 1
    pdf.drawPath(path, stroke=0, fill=1)


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    lines, current = [], ""
    for ch in text:
        if pdfmetrics.stringWidth(current + ch, font, size) > width and current:
            lines.append(current)
            current = ch
        else:
            current += ch
    if current:
        lines.append(current)
    return lines


def _fit(text: str, font: str, size: float, width: float, max_lines: int = 3):
    """The largest size (down to 40 %) at which the text fits in max_lines of width."""
    floor = size * 0.4
    while True:
        lines = _wrap(text, font, size, width)
        if len(lines) <= max_lines or size <= floor:
            return lines[:max_lines], size
        size *= 0.9


def _draw_plate(pdf: canvas.Canvas, address: Address, url: str, spec: PlateSize,
                x: float, y: float, authority: str | None) -> None:
    font = _font()
    w, h = spec.width_mm * mm, spec.height_mm * mm
    side = spec.qr_mm * mm
    pad = (h - side) / 2
    pdf.setFillColorRGB(*PLATE_BLUE)
    pdf.roundRect(x, y, w, h, 3 * mm, stroke=0, fill=1)
    # A white rule inside the edge, as on enamel plates.
    pdf.setStrokeColorRGB(*WHITE)
    pdf.setLineWidth(max(0.6, spec.code_pt / 8))
    inset = min(pad, 3 * mm) / 2
    pdf.roundRect(x + inset, y + inset, w - 2 * inset, h - 2 * inset, 2.5 * mm, stroke=1, fill=0)
    _draw_qr(pdf, url, x + w - pad - side, y + pad, side)

    left = x + pad + inset
    text_w = w - side - 2 * pad - 2 * inset - pad
    pdf.setFillColorRGB(*WHITE)
    pdf.setFont(font, spec.text_pt * 0.8)
    top = y + h - pad - inset - spec.text_pt * 0.8
    pdf.drawString(left, top, HEADING)
    lines, size = _fit(address.full_text, font, spec.address_pt, text_w)
    line_y = top - spec.text_pt * 0.6 - size * 1.05
    pdf.setFont(font, size)
    for line in lines:
        pdf.drawString(left, line_y, line)
        line_y -= size * 1.2
    pdf.setFont(font, spec.text_pt)
    bottom = y + pad + inset
    pdf.drawString(left, bottom + spec.code_pt * 1.6, INSTRUCTION)
    pdf.setFont(font, spec.code_pt)
    footer = (f"{authority}监制　" if authority else "") + address.code
    pdf.drawString(left, bottom, footer)


def render_plates_pdf(addresses: list[Address], size: str, base_url: str, *,
                      qr_target: Callable[[Address], str] | None = None,
                      authority: str | None = None) -> tuple[bytes, int]:
    """The plates PDF on A4 pages and its page count; plates flow left to right, top to bottom.

    qr_target gives what each QR encodes (default: the H5 entry URL); authority is the issuing
    police organ printed on each plate.
    """
    spec = PLATE_SIZES.get(size)
    if spec is None:
        raise PlateError("门牌尺寸无效")
    if not addresses:
        raise PlateError("没有可打印门牌的地址")
    if len(addresses) > MAX_PLATES:
        raise PlateError(f"一次最多打印 {MAX_PLATES} 块门牌，请缩小范围")
    target = qr_target or (lambda a: plate_url(base_url, a))
    buf = io.BytesIO()
    page_size = landscape(A4) if spec.landscape else A4
    pdf = canvas.Canvas(buf, pagesize=page_size, pageCompression=1)
    pdf.setTitle(HEADING)
    pdf.setSubject(f"{len(addresses)} plates, size {size}")
    page_w, page_h = page_size
    gap = spec.gap_mm * mm
    block_w = spec.columns * spec.width_mm * mm + (spec.columns - 1) * gap
    block_h = spec.rows * spec.height_mm * mm + (spec.rows - 1) * gap
    left, bottom = (page_w - block_w) / 2, (page_h - block_h) / 2
    pages = 0
    for i, address in enumerate(addresses):
        slot = i % spec.per_page
        if slot == 0:
            if i:
                pdf.showPage()
            pages += 1
        col, row = slot % spec.columns, slot // spec.columns
        x = left + col * (spec.width_mm * mm + gap)
        y = bottom + (spec.rows - 1 - row) * (spec.height_mm * mm + gap)
        _draw_plate(pdf, address, target(address), spec, x, y, authority)
    pdf.showPage()
    pdf.save()
    return buf.getvalue(), pages


def issue_plates(addresses: list[Address], officer: Officer, size: str,
                 ip: str | None = None) -> int:
    """Mark the plates as issued (plate_issued_at, for the address-labelling KPI) and audit it."""
    now = utcnow()
    for address in addresses:
        address.plate_issued_at = now
    single = addresses[0].id if len(addresses) == 1 else None
    audit.record(officer, "plates.issue", "address", single, ip=ip, detail={"count": len(addresses), "size": size,
                                "address_ids": [a.id for a in addresses][:500]})
    return len(addresses)


def plate_selection(officer: Officer, community_id, ids: list[str]) -> list[Address]:
    """The active addresses to print plates for: a community's, or the selected ids (every one
    in the officer's area, else 404); PlateError when nothing was chosen."""
    stmt = select(Address).where(Address.status == "active")
    ids = ids[:MAX_PLATES + 1]
    if community_id:
        community = scoping.scoped_get(Community, community_id, officer)
        stmt = stmt.where(Address.community_id == community.id)
    elif ids:
        stmt = stmt.where(Address.id.in_(scoping.all_scoped_ids(Address, ids, officer)))
    else:
        raise PlateError("请先选择地址或社区")
    return list(db.session.execute(scoping.scope_addresses(stmt, officer)
                                   .order_by(Address.full_text, Address.id)
                                   .limit(MAX_PLATES + 1)).scalars())


def authority_of(officer: Officer) -> str | None:
    """The issuing police organ printed on plates: the officer's branch."""
    branch = db.session.get(Branch, officer.branch_id) if officer.branch_id else None
    return branch.name if branch else None
