"""Item 14: door plates look like door plates (blue ground, white text, address large, QR on
the right, instruction and issuing authority), and production plates carry a WeChat
parametric QR whose scan follows the account."""
from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from PIL import Image
from pypdf import PdfReader

from app.extensions import db
from app.services.registry import plates
from tests.console.helpers import login
from tests.factories import make_address
from wechat.sandbox import store

ADDRESS = "思明区莲前街道安居路88号3幢2单元1102室"


def flat(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("size", ["large", "medium", "small"])
def test_plate_text_has_the_address_the_instruction_and_the_authority(world, size):
    address = make_address(world.a.jurisdiction["community"], full_text=ADDRESS)
    pdf, _ = plates.render_plates_pdf([address], size, "http://anju.example",
                                      authority="安居示范分局")
    text = flat(PdfReader(io.BytesIO(pdf)).pages[0].extract_text())
    assert ADDRESS in text and "微信扫码申报出租房屋" in text
    assert "安居示范分局监制" in text and address.code in text


def _first_pixels(pdf: bytes, tmp_path) -> Image.Image:
    (tmp_path / "plate.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "30", "-singlefile", str(tmp_path / "plate.pdf"),
                    str(tmp_path / "plate")], check=True, capture_output=True)
    return Image.open(tmp_path / "plate.png").convert("RGB")


def test_plate_ground_is_blue_and_the_qr_sits_on_white_at_the_right(world, tmp_path):
    address = make_address(world.a.jurisdiction["community"], full_text=ADDRESS)
    pdf, _ = plates.render_plates_pdf([address], "large", "http://anju.example")
    if shutil.which("pdftoppm") is None:
        # No poppler-utils: the blue ground must at least be the first fill of the page.
        content = PdfReader(io.BytesIO(pdf)).pages[0].get_contents().get_data().decode("latin-1")
        assert "0 .29 .62 rg" in content
        return
    image = _first_pixels(pdf, tmp_path)
    w, h = image.size
    r, g, b = image.getpixel((int(w * 0.12), int(h * 0.5)))  # left part of the plate
    assert b > 120 and r < 60 and b > g, (r, g, b)
    # The quiet zone: white at the inner edge of the QR square on the right of the plate.
    qr_left = (297 - 277) / 2 + 277 - 15 - 120  # mm from the page's left edge
    quiet = image.getpixel((int(w * (qr_left + 2) / 297), int(h * 0.5)))
    assert min(quiet) > 200, quiet


def test_production_plates_encode_a_wechat_parametric_qr_for_the_plate(as_officer, world, app,
                                                                       monkeypatch):
    monkeypatch.setitem(app.config, "PLATE_QR_MODE", "wechat")
    resp = as_officer.post("/console/plates", data={"size": "small",
                                                    "ids": [str(world.a.address.id)]})
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    created = store.calls("cgi-bin/qrcode/create")
    assert created, "the plate asked WeChat for a parametric QR"
    body = created[-1].get("body") or created[-1].get("json") or created[-1]
    assert world.a.address.qr_token in str(body) and "QR_LIMIT_STR_SCENE" in str(body)
