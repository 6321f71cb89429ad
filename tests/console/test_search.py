"""Search by document number (blind index), name, phone, address text and receipt code; house and
person timelines; masked by default; full numbers only with a reason and an audit row; masked
CSV exports for officers."""
import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, Residence
from app.services.people import search
from tests.console.helpers import login, search as search_page


@pytest.mark.parametrize("query,kind", [
    ("11010519491231002x", "document"), ("11010519491231002X", "document"),
    ("13800000001", "phone"), ("A租客", "name"), ("ABCD2345", "receipt"),
    ("测试路", "address"), ("E12345678", "document"),
])
def test_detect_kind_recognises_what_an_officer_typed(query, kind):
    assert search.detect_kind(query) == kind


def test_document_search_uses_the_blind_index_and_ignores_case(world):
    officer = world.officers["officer_a"]
    found = search.search("11010519491231002x", officer).persons
    assert [p.id for p in found] == [world.a.person.id]


def test_phone_search_finds_the_person_by_blind_index(world):
    officer = world.officers["officer_a"]
    assert [p.id for p in search.search("138 0000 0001", officer, "phone").persons] == [
        world.a.person.id]


def test_name_search_matches_the_start_of_the_name_within_the_area(world):
    assert [p.id for p in search.search("A租客", world.officers["officer_a"]).persons] == [
        world.a.person.id]
    assert search.search("B租客", world.officers["officer_a"]).persons == []
    assert search.search("%", world.officers["officer_a"], "name").persons == []


def test_address_and_receipt_search(world):
    officer = world.officers["officer_a"]
    assert world.a.address in search.search(world.a.address.full_text, officer).addresses
    code = world.a.declarations["review"].receipt_code
    assert [d.id for d in search.search(code.lower(), officer, "receipt").declarations] == [
        world.a.declarations["review"].id]
    assert search.search(world.b.declarations["review"].receipt_code, officer,
                         "receipt").declarations == []
    # "RC000001" also looks like a passport number: the automatic search tries both.
    assert search.search(code, officer).declarations == [world.a.declarations["review"]]


def test_search_page_shows_masked_values_only(as_officer, world):
    html = search_page(as_officer, "11010519491231002X").get_data(as_text=True)
    assert "110105********002X" in html
    assert "A**甲" in html and "A租客甲" not in html
    assert "138****0001" in html and "13800000001" not in html


def test_house_timeline_lists_who_lived_there_and_when(as_officer, world):
    # The stay is created and then ended, as a move-out would (A's current stay is still live).
    world.a.residence.end(date(2026, 2, 28))
    db.session.flush()
    later = Residence(person_id=world.a.person.id, house_id=world.a.house.id,
                      start_date=date(2024, 1, 1), declared_by="tenant")
    db.session.add(later)
    db.session.flush()
    later.end(date(2025, 1, 1))
    db.session.commit()
    timeline = search.house_timeline(world.a.house)
    assert [r.start_date for r in timeline] == [date(2024, 1, 1), date(2026, 3, 1)]
    html = as_officer.get(f"/console/houses/{world.a.house.id}").get_data(as_text=True)
    assert "2024年1月1日" in html and "2025年1月1日" in html and "租客本人" in html
    assert "2026年2月28日" in html
    assert "110105********002X" in html


def test_person_timeline_shows_only_stays_in_the_officers_area(world):
    # The person of A also lived in B's house: officer A does not see that stay.
    stay = Residence(person_id=world.a.person.id, house_id=world.b.house.id,
                     start_date=date(2025, 1, 1), declared_by="landlord")
    stay.end(date(2025, 6, 1))
    db.session.add(stay)
    db.session.commit()
    mine = search.person_timeline(world.a.person, world.officers["officer_a"])
    everything = search.person_timeline(world.a.person, world.officers["branch_admin"])
    assert [r.house_id for r in mine] == [world.a.house.id]
    assert {r.house_id for r in everything} == {world.a.house.id, world.b.house.id}


def test_person_page_links_the_stay_to_its_declaration(as_officer, world):
    html = as_officer.get(f"/console/persons/{world.a.person.id}").get_data(as_text=True)
    assert world.a.declarations["review"].receipt_code in html
    assert world.a.address.full_text in html


def test_showing_a_full_document_number_needs_a_reason_and_is_audited(as_officer, world):
    url = f"/console/persons/{world.a.person.id}/reveal"
    refused = as_officer.post(url, data={"field": "document", "reason": "看"})
    assert refused.status_code == 400
    assert "11010519491231002X" not in refused.get_data(as_text=True)
    assert not db.session.execute(select(AuditLog).where(
        AuditLog.action.like("person.reveal%"))).first()
    shown = as_officer.post(url, data={"field": "document", "reason": "核对入住登记"})
    assert shown.status_code == 200
    assert "11010519491231002X" in shown.get_data(as_text=True)
    assert shown.headers["Cache-Control"] == "no-store"
    row = db.session.execute(select(AuditLog).where(
        AuditLog.action == "person.reveal_document")).scalar_one()
    assert (row.object_id, row.reason, row.actor_id) == (
        world.a.person.id, "核对入住登记", world.officers["officer_a"].id)


def test_showing_a_full_phone_number_is_audited(as_officer, world):
    shown = as_officer.post(f"/console/persons/{world.a.person.id}/reveal",
                            data={"field": "phone", "reason": "联系租客本人"})
    assert "13800000001" in shown.get_data(as_text=True)
    assert db.session.execute(select(AuditLog).where(
        AuditLog.action == "person.reveal_phone")).scalar_one()


def _rows(resp):
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


def test_export_for_an_officer_is_masked_even_when_full_is_asked(as_officer, world):
    resp = as_officer.post("/console/search/export", data={
        "q": "11010519491231002X", "kind": "auto", "full": "y", "reason": "上报统计"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = _rows(resp)
    assert rows[1][2] == "110105********002X" and rows[1][3] == "138****0001"
    assert rows[1][0] == "A**甲"
    assert db.session.execute(select(AuditLog).where(
        AuditLog.action == "search.export")).scalar_one()


def test_export_with_full_numbers_for_an_admin_needs_a_reason(client, world):
    login(client, "station_a")
    data = {"q": "11010519491231002X", "kind": "auto", "full": "y"}
    assert client.post("/console/search/export", data=data).status_code == 400
    resp = client.post("/console/search/export", data={**data, "reason": "专项行动核查"})
    assert _rows(resp)[1][2] == "11010519491231002X"
    row = db.session.execute(select(AuditLog).where(
        AuditLog.action == "search.export_full")).scalar_one()
    assert row.reason == "专项行动核查"


def test_export_never_writes_a_formula_cell(world):
    world.a.person.name = "=HYPERLINK(1)"
    assert "'=HYPERLINK(1)" in search.export_persons_csv([world.a.person], full=True)


def test_search_travels_in_the_body_and_the_result_url_is_opaque(as_officer, world):
    resp = as_officer.post("/console/search", data={"q": "11010519491231002X", "kind": "auto"})
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert "/console/search?s=" in location and "1101" not in location and "q=" not in location
    html = as_officer.get(location).get_data(as_text=True)
    assert "110105********002X" in html
    # A query in the URL is never run: old links and bookmarks cannot leak it back into logs.
    ignored = as_officer.get("/console/search", query_string={"q": "11010519491231002X"})
    assert "110105********002X" not in ignored.get_data(as_text=True)


def test_a_saved_search_opens_only_for_the_officer_who_ran_it(app, as_officer, world):
    location = as_officer.post("/console/search", data={"q": "A租客", "kind": "name"}
                               ).headers["Location"]
    other = app.test_client()
    login(other, "station_a")  # same station, sees the person, but did not run this search
    html = other.get(location).get_data(as_text=True)
    assert "A**甲" not in html and "查询结果已过期" in html


def test_a_saved_search_keeps_no_identifying_value_in_clear(as_officer, world):
    from app.redis_conn import get_redis

    as_officer.post("/console/search", data={"q": "13800000001", "kind": "phone"})
    redis = get_redis()
    keys = list(redis.scan_iter("console:search:*"))
    assert len(keys) == 1
    assert redis.ttl(keys[0]) > 0  # it expires
    raw = redis.get(keys[0])
    assert b"13800000001" not in raw and b"phone" not in raw
