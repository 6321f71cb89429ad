"""/r/<code>: anyone holding a receipt code can verify it, and sees masked data only."""
from __future__ import annotations

from datetime import date

from app.fakedata import FakeData
from app.services.declarations import declare, rentals
from tests.factories import make_address, make_jurisdiction

fake = FakeData(8)


def test_receipt_shows_status_and_masked_people_only(client, db):
    place = make_jurisdiction()
    address = make_address(place["community"])
    landlord = declare.Submitter("landlord")
    house_decl = rentals.register_house(landlord, address, rental_type="whole", rooms=2, owner={
        "name": "房东", "document_number": fake.resident_id()})
    db.session.commit()
    number, name = fake.resident_id(), "欧阳小明"
    decl = rentals.declare_move_in(landlord, house_decl.house, [{
        "name": name, "document_number": number, "start_date": date.today()}])
    db.session.commit()
    page = client.get(f"/r/{decl.receipt_code.lower()}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert decl.receipt_code in html and "租客入住" in html and "欧**明" in html
    assert number not in html and name not in html
    assert number[:6] + "********" + number[-4:] in html
    assert address.full_text not in html  # the room is hidden
    assert "data:image/png;base64," in html


def test_unknown_or_malformed_receipt_is_a_chinese_404(client, db):
    for code in ("ZZZZZZZZ", "short", "<script>", "A" * 300):
        resp = client.get(f"/r/{code}")
        assert resp.status_code == 404
        assert "页面不存在" in resp.get_data(as_text=True)
