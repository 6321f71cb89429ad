"""QR door plates: a print-ready PDF in three sizes, with address text and code on each plate,
for a community or a selection; issuing records plate_issued_at and an audit row."""
import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.models import Address, AuditLog
from app.services.registry import plates
from tests.factories import make_address


def _pdf(resp):
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    return PdfReader(io.BytesIO(resp.data))


@pytest.mark.parametrize("size,count,pages", [("large", 3, 3), ("medium", 5, 2),
                                              ("small", 13, 2), ("small", 12, 1)])
def test_plate_pdf_has_one_plate_per_address_laid_out_by_size(world, size, count, pages):
    community = world.a.jurisdiction["community"]
    addresses = [make_address(community) for _ in range(count)]
    pdf, page_count = plates.render_plates_pdf(addresses, size, "http://anju.example")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == page_count == pages
    text = "".join(page.extract_text() for page in reader.pages)
    assert all(a.code in text for a in addresses)


def test_plate_sizes_follow_the_standard():
    assert {k: s.qr_mm for k, s in plates.PLATE_SIZES.items()} == {
        "large": 120, "medium": 75, "small": 40}


def test_plate_qr_encodes_the_h5_entry_url_with_the_token(world):
    url = plates.plate_url("http://anju.example/", world.a.address)
    assert url == f"http://anju.example/h5/a/{world.a.address.qr_token}"


def test_selected_plates_download_and_are_recorded_as_issued(as_officer, world):
    a = world.a
    resp = as_officer.post("/console/plates", data={
        "size": "medium", "ids": [str(a.address.id), str(a.other_address.id)]})
    reader = _pdf(resp)
    assert len(reader.pages) == 1
    assert resp.headers["X-Plate-Count"] == "2"
    db.session.expire_all()
    assert db.session.get(Address, a.address.id).plate_issued_at is not None
    row = db.session.execute(select(AuditLog).where(AuditLog.action == "plates.issue")).scalar_one()
    assert row.detail["count"] == 2 and row.detail["size"] == "medium"


def test_community_plates_cover_every_active_address_of_the_community(as_officer, world):
    community = world.a.jurisdiction["community"]
    retired = make_address(community, status="retired")
    db.session.commit()
    resp = as_officer.post("/console/plates", data={"size": "large",
                                                   "community_id": str(community.id)})
    reader = _pdf(resp)
    assert len(reader.pages) == 2  # the two active addresses, one large plate per page
    text = "".join(p.extract_text() for p in reader.pages)
    assert retired.code not in text


def test_plate_request_without_addresses_or_with_a_bad_size_is_not_a_500(as_officer, world):
    assert as_officer.post("/console/plates", data={"size": "small"}).status_code == 302
    assert as_officer.post("/console/plates", data={
        "size": "huge", "ids": [str(world.a.address.id)]}).status_code == 400
    assert as_officer.post("/console/plates", data={
        "size": "small", "community_id": "abc"}).status_code == 404
