"""Masked means masked: no page, export or API answer shows a birth date beside a masked ID (the
masked digits *are* the birth date), so no full number can be rebuilt from what is shown; the
reveal-with-reason shows both and is audited; personal pages are never cached."""
from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from sqlalchemy import select

from app import crypto
from app.extensions import db
from app.fakedata import FakeData
from app.identity import _check_digit, check_document
from app.models import AuditLog, House, Person, Residence
from app.services.demo.load import load_demo_data
from tests.api.test_api import user_api
from tests.console.helpers import login, search
from tests.factories import make_address, make_jurisdiction
from tests.h5.test_pages import house_form, sign_in

fake = FakeData(1010)

# Every way a page could spell a date.
_DATES = [re.compile(p) for p in (
    r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})", r"(?=(\d{4})(\d{2})(\d{2}))",
    r"(\d{4})年(\d{1,2})月(\d{1,2})日", r"(\d{4})/(\d{1,2})/(\d{1,2})", r"(\d{4})\.(\d{1,2})\.(\d{1,2})")]


def dates_shown(text: str) -> set[str]:
    """Every real calendar date the text spells, as YYYYMMDD."""
    found = set()
    for pattern in _DATES:
        for y, m, d in pattern.findall(text):
            try:
                found.add(date(int(y), int(m), int(d)).strftime("%Y%m%d"))
            except ValueError:
                pass
    return found


def rebuild(masked: str, text: str) -> set[str]:
    """The auditor's attack: the masked ID's visible ends around every date the text shows,
    kept when the check digit agrees."""
    if len(masked) != 18 or masked[6:14] != "*" * 8:
        return set()
    candidates = {masked[:6] + d + masked[14:] for d in dates_shown(text)}
    return {c for c in candidates if c[17] == _check_digit(c[:17])}


def birth_date_spellings(born: date) -> list[str]:
    return [born.isoformat(), born.strftime("%Y%m%d"), f"{born.year}年{born.month}月{born.day}日",
            f"{born.year}年{born:%m}月{born:%d}日", f"{born.year}/{born.month}/{born.day}",
            f"{born:%Y/%m/%d}", f"{born:%Y.%m.%d}"]


def assert_nothing_rebuilds(text: str, number: str, born: date | None, masked: str) -> None:
    """No full birth date, no run of the hidden characters, and no way back to the number."""
    assert number not in text
    if born is not None:
        for spelled in birth_date_spellings(born):
            assert spelled not in text, spelled
    if len(number) == 18:
        assert number[6:14] not in text
    assert number not in rebuild(masked, text)


# -- the mask itself ------------------------------------------------------------------------------

@pytest.mark.parametrize("document_type, number, birth_slice", [
    ("resident_id", fake.resident_id(), slice(6, 14)),
    ("resident_id", fake.resident_id_15(), slice(6, 12)),
    ("hmt_permit", fake.hmt_permit(), slice(6, 14)),
    ("foreign_pr", fake.foreign_pr(), slice(6, 14)),
    ("foreign_pr", "USA358501010012", slice(5, 11)),  # 2004-2023 card: YYMMDD at 6-11
])
def test_masked_documents_hide_every_birth_date_character(document_type, number, birth_slice):
    check_document(document_type, number)  # a real number of that type
    masked = crypto.mask_document(number)
    assert len(masked) == len(number)
    assert set(masked[birth_slice]) == {"*"}
    assert number[birth_slice] not in masked
    assert crypto.mask_document(masked) == masked  # masking a masked value changes nothing


def test_masked_resident_id_keeps_the_designs_shape():
    assert crypto.mask_document("35030319900101123x") == "350303********123X"


# -- the console and its exports, on demo data -----------------------------------------------------

@pytest.fixture()
def demo(app, db):
    result = load_demo_data(seed=5, scale=0.05)
    db.session.commit()
    return result


def _export(client, q: str) -> str:
    resp = client.post("/console/search/export", data={"q": q, "kind": "name"})
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_console_pages_and_exports_never_rebuild_an_id_of_the_demo_persons(client, demo):
    login(client, *demo.passwords["branch_admin"])
    persons = db.session.execute(select(Person).where(Person.document_type == "resident_id")
                                 .order_by(Person.id)).scalars().all()[::5][:40]
    assert len(persons) >= 30
    rebuilt = 0
    surnames = {p.name[0] for p in persons}
    listing = "\n".join(search(client, s, "name").get_data(as_text=True) + _export(client, s)
                        for s in surnames)
    for person in persons:
        number = crypto.decrypt(person.document_number_enc)
        pages = [listing, client.get(f"/console/persons/{person.id}").get_data(as_text=True)]
        for r in db.session.execute(select(Residence).where(
                Residence.person_id == person.id)).scalars():
            pages.append(client.get(f"/console/houses/{r.house_id}").get_data(as_text=True))
        text = "\n".join(pages)
        assert person.document_masked in text  # it is on the page, masked
        assert f"{person.birth_date.year}年生" in text  # the year, no more
        assert_nothing_rebuilds(text, number, person.birth_date, person.document_masked)
        rebuilt += number in rebuild(person.document_masked, text)
    assert rebuilt == 0


def test_masked_export_gives_the_birth_year_only(client, demo):
    login(client, *demo.passwords["officer"])
    person = db.session.execute(select(Person).where(
        Person.document_type == "resident_id").order_by(Person.id)).scalars().first()
    rows = list(csv.reader(io.StringIO(_export(client, person.name).lstrip("\ufeff"))))
    assert rows[0][4] == "出生年份"
    assert [str(person.birth_date.year), person.document_masked] in [[r[4], r[2]] for r in rows[1:]]


def test_revealing_the_number_reveals_the_birth_date_with_a_reason_and_an_audit_row(client,
                                                                                    demo):
    login(client, *demo.passwords["officer"])
    username = demo.passwords["officer"][0]
    person = db.session.execute(select(Person).where(
        Person.document_type == "resident_id").order_by(Person.id)).scalars().first()
    url = f"/console/persons/{person.id}"
    assert person.birth_date.isoformat() not in client.get(url).get_data(as_text=True)
    refused = client.post(f"{url}/reveal", data={"field": "document", "reason": ""})
    assert refused.status_code == 400
    assert person.birth_date.isoformat() not in refused.get_data(as_text=True)
    shown = client.post(f"{url}/reveal", data={"field": "document", "reason": "核对住宿登记"})
    html = shown.get_data(as_text=True)
    assert crypto.decrypt(person.document_number_enc) in html
    assert person.birth_date.isoformat() in html
    row = db.session.execute(select(AuditLog).where(
        AuditLog.action == "person.reveal_document")).scalar_one()
    assert (row.object_id, row.reason) == (person.id, "核对住宿登记")
    assert row.detail == {"shown": ["document_number", "birth_date"]}
    assert row.actor_name and username
    # Revealing the phone does not bring the birth date along.
    phone = client.post(f"{url}/reveal", data={"field": "phone", "reason": "联系本人核实"})
    assert person.birth_date.isoformat() not in phone.get_data(as_text=True)


# -- what landlords and the public see: API, H5, receipts ------------------------------------------

def _tenants() -> list[dict]:
    """One tenant of every document type that carries a birth date."""
    numbers = [("resident_id", fake.resident_id()), ("resident_id", fake.resident_id_15()),
               ("hmt_permit", fake.hmt_permit()), ("foreign_pr", fake.foreign_pr()),
               ("foreign_pr", "USA358501010012")]
    today = date.today().isoformat()
    return [{"name": fake.name(), "document_type": t, "document_number": n, "start_date": today,
             "nationality": "USA" if t == "foreign_pr" else "CHN"} for t, n in numbers]


def _check_people(text: str) -> None:
    people = db.session.execute(select(Person)).scalars().all()
    assert len(people) >= 5
    for p in people:
        number = crypto.decrypt(p.document_number_enc)
        assert_nothing_rebuilds(text, number, p.birth_date, p.document_masked)
        if p.document_type != "resident_id" or len(number) == 18:
            info = check_document(p.document_type, number)
            assert info.birth_date is None or info.birth_date.strftime("%y%m%d") not in text


def test_api_answers_and_receipts_show_no_birth_date(client, db):
    place = make_jurisdiction()
    address = make_address(place["community"])
    db.session.commit()
    api, _ = user_api(client, db, "o-privacy-landlord")
    house_id = api.post("/houses", {
        "qr_token": address.qr_token, "rental_type": "shared", "rooms": 5,
        "owner": {"name": "房东甲", "document_number": fake.resident_id()}}).get_json()["house_id"]
    moved = api.post(f"/houses/{house_id}/move-ins", {"tenants": _tenants()})
    assert moved.status_code == 201, moved.get_json()
    texts = [api.get(f"/houses/{house_id}").get_data(as_text=True),
             api.get("/declarations").get_data(as_text=True),
             api.get(f"/declarations/{moved.get_json()['id']}").get_data(as_text=True),
             client.get(f"/r/{moved.get_json()['receipt_code']}").get_data(as_text=True)]
    assert len(api.get(f"/houses/{house_id}").get_json()["tenants"]) == 5
    _check_people("\n".join(texts))


def test_h5_pages_show_no_birth_date(client, db):
    place = make_jurisdiction()
    address = make_address(place["community"])
    db.session.commit()
    sign_in(client, "房东")
    client.post(f"/h5/a/{address.qr_token}/house", data=house_form(address))
    house = db.session.execute(select(House)).scalar_one()
    client.post(f"/h5/houses/{house.id}/pledge", data={"signer_name": "房东甲", "agree": "1"})
    tenants = _tenants()
    form = {"rows": str(len(tenants))}
    for i, t in enumerate(tenants):
        form.update({f"tenants-{i}-{k}": v for k, v in t.items()})
    done = client.post(f"/h5/houses/{house.id}/move-in", data=form, follow_redirects=True)
    assert "申报已提交" in done.get_data(as_text=True), done.get_data(as_text=True)
    texts = [done.get_data(as_text=True)] + [
        client.get(url, follow_redirects=True).get_data(as_text=True)
        for url in (f"/h5/houses/{house.id}", f"/h5/houses/{house.id}/move-out",
                    "/h5/declarations", "/h5/houses")]
    _check_people("\n".join(texts))


OLD_MASK = "USA358*****0012"  # how a 2004 foreign PR card was masked before: "5" of the year shown


def test_masked_snapshots_from_before_are_masked_again_on_receipt_and_console(client, db):
    from app.services.declarations.declare import RECEIPT_ALPHABET
    from tests.console.helpers import PASSWORD, create_officer, make_declaration

    place = make_jurisdiction()
    address = make_address(place["community"])
    declaration = make_declaration(address, payload={"address": address.full_text, "tenants": [
        {"name": "外国租客", "document_masked": OLD_MASK, "start_date": "2026-11-01"}]})
    code = declaration.receipt_code = RECEIPT_ALPHABET[:8]
    create_officer(username="mask_officer", password=PASSWORD, name="王警官", badge_number="1",
                   role="officer", branch_id=place["branch"].id, station_id=place["station"].id,
                   police_area_id=place["police_area"].id)
    db.session.commit()
    new_mask = crypto.mask_document(OLD_MASK)
    assert new_mask == "USA35*******012"
    receipt = client.get(f"/r/{code}").get_data(as_text=True)
    assert new_mask in receipt and OLD_MASK not in receipt
    login(client, "mask_officer")
    page = client.get(f"/console/declarations/{declaration.id}").get_data(as_text=True)
    assert new_mask in page and OLD_MASK not in page


def test_migration_masks_stored_numbers_again_without_the_key(app_config, tmp_path):
    """Rows masked by the old rule lose their visible birth characters on upgrade."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app

    scratch = create_app({**app_config,
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/remask.sqlite3"})
    with scratch.app_context():
        upgrade(revision="a78d102ad5e3")
        now = "2026-12-01 00:00:00"
        for i, masked in enumerate([OLD_MASK, "350303********123X", "E1*****78",
                                    "AB1234**********5678"]):
            db.session.execute(text(
                "INSERT INTO person (document_type, document_number_enc, document_blind_index, "
                "document_masked, name, nationality, is_floating, collected_at, "
                "collected_by_type, collected_channel, created_at, updated_at) VALUES "
                "('other', 'x', :blind, :masked, '某', 'CHN', 1, :now, 'demo', 'demo', :now, :now)"),
                {"blind": f"b{i}", "masked": masked, "now": now})
        db.session.commit()
        upgrade()
        stored = db.session.execute(text(
            "SELECT document_masked FROM person ORDER BY id")).scalars().all()
        db.session.remove()
        db.engine.dispose()
    assert stored == ["USA35*******012", "350303********123X", "E1*****78",
                      "AB****************78"]


# -- caching --------------------------------------------------------------------------------------

def _no_store(resp) -> bool:
    return resp.headers.get("Cache-Control") == "no-store"


def test_every_family_of_personal_pages_is_sent_no_store(app, client, db):
    from tests.console.helpers import PASSWORD, create_officer, make_area

    area = make_area("A", "13800000001")
    create_officer(username="cache_officer", password=PASSWORD, name="王警官", badge_number="9",
                   role="officer", branch_id=area.jurisdiction["branch"].id,
                   station_id=area.jurisdiction["station"].id,
                   police_area_id=area.jurisdiction["police_area"].id)
    db.session.commit()
    api, _ = user_api(app.test_client(), db, "o-cache")
    receipt = area.declarations["review"].receipt_code
    answers = {
        "console login": client.get("/console/login"),
        "api without sign-in": client.get("/api/v1/houses"),
        "api": api.get("/houses"),
        "openapi": client.get("/api/v1/openapi.json"),
        "receipt": client.get(f"/r/{receipt}"),
        "sandbox": client.get("/wechat-sandbox/"),
        "not found": client.get("/no-such-page"),
    }
    login(client, "cache_officer")
    answers.update({
        "console person": client.get(f"/console/persons/{area.person.id}"),
        "console search": search(client, "A租客"),
        "console export": client.post("/console/search/export", data={"q": "A租客", "kind": "name"}),
    })
    h5 = app.test_client()
    sign_in(h5, "房东")
    answers["h5"] = h5.get("/h5/houses")
    for family, resp in answers.items():
        assert resp.status_code < 500, family
        assert _no_store(resp), family


def test_static_files_may_be_cached(client, db):
    for url in ("/static/anju.css", "/console/static/console.css", "/bootstrap/static/css/bootstrap.min.css"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert "no-store" not in resp.headers.get("Cache-Control", ""), url
