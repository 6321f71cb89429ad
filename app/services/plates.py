"""QR door plates (标准地址二维码门牌) as a print-ready PDF, in the standard's three sizes.

Each plate shows a heading, the QR code (vector squares, so it prints sharp at any size), the
address text and the address code. The QR encodes PUBLIC_BASE_URL + /h5/a/<qr_token>.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from app.models import Address, Officer, utcnow
from app.services import audit

CJK_FONT = "STSong-Light"  # reportlab's built-in CID font: every PDF reader has it, no files
LATIN_FONT = "Helvetica"
MAX_PLATES = 2000
HEADING = "标准地址二维码门牌"


@dataclass(frozen=True)
class PlateSize:
    label: str
    qr_mm: float
    width_mm: float
    height_mm: float
    columns: int
    rows: int
    heading_pt: float
    text_pt: float
    code_pt: float

    @property
    def per_page(self) -> int:
        return self.columns * self.rows


PLATE_SIZES = {
    "large": PlateSize("大号（二维码 120 毫米）", 120, 170, 185, 1, 1, 22, 16, 11),
    "medium": PlateSize("中号（二维码 75 毫米）", 75, 95, 112, 2, 2, 14, 11, 8),
    "small": PlateSize("小号（二维码 40 毫米）", 40, 60, 68, 3, 4, 8, 7, 6),
}


class PlateError(ValueError):
    """The plate request cannot be served; the message is shown in Chinese."""


def plate_url(base_url: str, address: Address) -> str:
    """The H5 entry URL a plate's QR code encodes."""
    return f"{base_url.rstrip('/')}/h5/a/{address.qr_token}"


def _font() -> str:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def _draw_qr(pdf: canvas.Canvas, data: str, x: float, y: float, side: float) -> None:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    qr.add_data(data)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    n = len(matrix)
    cell = side / n
    path = pdf.beginPath()
    for r, row in enumerate(matrix):
        c = 0
        while c < n:  # one rectangle per horizontal run of dark modules keeps the PDF small
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                path.rect(x + start * cell, y + side - (r + 1) * cell, (c - start) * cell, cell)
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
    return lines[:3]


def _draw_plate(pdf: canvas.Canvas, address: Address, url: str, spec: PlateSize,
                x: float, y: float) -> None:
    font = _font()
    w, h = spec.width_mm * mm, spec.height_mm * mm
    pdf.setLineWidth(0.8)
    pdf.roundRect(x, y, w, h, 3 * mm)
    margin = (w - spec.qr_mm * mm) / 2
    pdf.setFont(font, spec.heading_pt)
    top = y + h - margin * 0.5 - spec.heading_pt
    pdf.drawCentredString(x + w / 2, top, HEADING)
    # Keep clear of the heading: scanners need a quiet zone around the code.
    qr_top = top - spec.heading_pt * 0.4 - 2.5 * mm
    qr_side = spec.qr_mm * mm
    _draw_qr(pdf, url, x + margin, qr_top - qr_side, qr_side)
    pdf.setFont(font, spec.text_pt)
    line_y = qr_top - qr_side - 2 * mm - spec.text_pt
    for line in _wrap(address.full_text, font, spec.text_pt, w - 4 * mm):
        pdf.drawCentredString(x + w / 2, line_y, line)
        line_y -= spec.text_pt * 1.25
    pdf.setFont(LATIN_FONT, spec.code_pt)
    pdf.drawCentredString(x + w / 2, y + spec.code_pt * 0.8, address.code)


def render_plates_pdf(addresses: list[Address], size: str, base_url: str) -> tuple[bytes, int]:
    """The plates PDF on A4 pages and its page count; plates flow left to right, top to bottom."""
    spec = PLATE_SIZES.get(size)
    if spec is None:
        raise PlateError("门牌尺寸无效")
    if not addresses:
        raise PlateError("没有可打印门牌的地址")
    if len(addresses) > MAX_PLATES:
        raise PlateError(f"一次最多打印 {MAX_PLATES} 块门牌，请缩小范围")
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    pdf.setTitle("标准地址二维码门牌")
    pdf.setSubject(f"{len(addresses)} plates, size {size}")
    page_w, page_h = A4
    gap = 4 * mm
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
        _draw_plate(pdf, address, plate_url(base_url, address), spec, x, y)
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
