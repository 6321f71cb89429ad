"""Penalty decisions (处罚决定): the legal basis chosen by the offence date, amounts checked
against each article's range (the field named in Chinese), console pages scoped to the station,
the printable record citing the article, and repeats within 12 months highlighted."""
from __future__ import annotations

import io
import re
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from app.extensions import db
from app.fakedata import FakeData
from app.models import AuditLog, MissedRegistration, Penalty
from app.services.errors import RuleError, StateConflict
from app.services.police import legal_basis, penalties
from tests.console.helpers import login
from tests.factories import make_person

fake = FakeData(1212)
NOW = datetime(2026, 6, 1, 2, 0)  # 10:00 in Shanghai


def _landlord(world, area="a", name="王房东"):
    person = make_person(fake.resident_id(), name=name)
    getattr(world, area).house.owner_person_id = person.id
    db.session.commit()
    return person


def _missed(world, landlord, *, found: datetime, area="a"):
    house = getattr(world, area).house
    miss = MissedRegistration(source="spot_check", station_id=house.station_id,
                              document_type="resident_id", document_blind_index="x" * 64,
                              deadline=found + timedelta(days=7), status="open",
                              house_id=house.id, landlord_person_id=landlord.id)
    miss.created_at = found
    db.session.add(miss)
    db.session.commit()
    return miss


def _decide(world, officer="officer_a", **kw):
    target = penalties.target_for_house(world.a.house.id, world.officers[officer])
    args = {"landlord_person_id": target.default_landlord_id, "offence_date": date(2026, 3, 1),
            "kind": "fine", "amount_yuan": "500", "minor": False, "now": NOW, **kw}
    return penalties.record_penalty(world.officers[officer], target, **args)


# -- the legal basis by offence date ----------------------------------------------------------

def test_the_2012_article_applies_to_an_offence_on_2025_12_31_and_the_2025_one_from_2026_01_01():
    old, new = legal_basis.basis_for(date(2025, 12, 31)), legal_basis.basis_for(date(2026, 1, 1))
    assert old.key == "zaf-2012-57" and old.short == "治安管理处罚法(2012)第五十七条"
    assert old.citation == "《中华人民共和国治安管理处罚法》（2012年修正）第五十七条第一款"
    assert "处二百元以上五百元以下罚款" in old.text
    assert (old.fine.low, old.fine.high, old.minor_fine, old.minor_warning) == (
        Decimal(200), Decimal(500), None, False)
    assert new.key == "zaf-2025-68" and new.citation.endswith("（2025年修订）第六十八条")
    assert "处五百元以上一千元以下罚款；情节较轻的，处警告或者五百元以下罚款" in new.text
    assert (new.fine.low, new.fine.high, new.minor_fine.high, new.minor_warning) == (
        Decimal(500), Decimal(1000), Decimal(500), True)
    assert new.penalty_rule() == "处500元以上1,000元以下罚款；情节较轻的，处警告或者500元以下罚款"


def test_the_table_is_data_and_a_future_revision_is_one_more_row():
    raw = {"bases": [
        {"key": "a", "law": "某法", "edition": "旧", "article": "第一条", "short": "某法第一条",
         "effective_from": "2013-01-01", "text_scope": "罚则", "text": "……", "fine":
         {"min": "200", "max": "500"}},
        {"key": "b", "law": "某法", "edition": "新", "article": "第二条", "short": "某法第二条",
         "effective_from": "2030-07-01", "text_scope": "罚则", "text": "……", "fine":
         {"min": "800", "max": "2000"}, "minor": {"warning": True}}]}
    rows = legal_basis.parse_table(raw)
    assert legal_basis.basis_for(date(2030, 6, 30), rows).key == "a"
    chosen = legal_basis.basis_for(date(2030, 7, 1), rows)
    assert chosen.key == "b" and chosen.minor_warning and chosen.minor_fine is None
    with pytest.raises(ValueError):
        legal_basis.parse_table({"bases": [raw["bases"][0], dict(raw["bases"][1],
                                                                  effective_from="2013-01-01")]})


CASES = [  # offence date, minor, kind, amount, refused field (None: accepted)
    (date(2025, 12, 31), False, "fine", "200", None),
    (date(2025, 12, 31), False, "fine", "500", None),
    (date(2025, 12, 31), False, "fine", "199.99", "amount_yuan"),
    (date(2025, 12, 31), False, "fine", "500.01", "amount_yuan"),
    (date(2025, 12, 31), False, "fine", "800", "amount_yuan"),  # the 2025 range is not yet law
    (date(2025, 12, 31), True, "fine", "300", "minor"),  # the 2012 article has no minor clause
    (date(2025, 12, 31), False, "warning", "", "kind"),
    (date(2026, 1, 1), False, "fine", "500", None),
    (date(2026, 1, 1), False, "fine", "1000", None),
    (date(2026, 1, 1), False, "fine", "499.99", "amount_yuan"),
    (date(2026, 1, 1), False, "fine", "1000.01", "amount_yuan"),
    (date(2026, 1, 1), False, "fine", "", "amount_yuan"),
    (date(2026, 1, 1), False, "warning", "", "kind"),  # a warning only when minor
    (date(2026, 1, 1), True, "warning", "", None),
    (date(2026, 1, 1), True, "warning", "200", "amount_yuan"),
    (date(2026, 1, 1), True, "fine", "500", None),  # 以下 includes the number itself
    (date(2026, 1, 1), True, "fine", "0.01", None),
    (date(2026, 1, 1), True, "fine", "0", "amount_yuan"),
    (date(2026, 1, 1), True, "fine", "500.01", "amount_yuan"),
    (date(2026, 1, 1), False, "fine", "五百", "amount_yuan"),
    (date(2026, 1, 1), False, "fine", "500.005", "amount_yuan"),
    (date(2026, 1, 1), False, "jail", "", "kind"),
]


@pytest.mark.parametrize("offence, minor, kind, amount, refused", CASES)
def test_each_range_and_its_boundaries(world, offence, minor, kind, amount, refused):
    _landlord(world)
    if refused is None:
        p = _decide(world, offence_date=offence, minor=minor, kind=kind, amount_yuan=amount)
        assert p.legal_basis_key == legal_basis.basis_for(offence).key
        assert p.amount_yuan == (Decimal(amount) if kind == "fine" else None)
        return
    with pytest.raises(RuleError) as exc:
        _decide(world, offence_date=offence, minor=minor, kind=kind, amount_yuan=amount)
    assert exc.value.field == refused
    if refused == "amount_yuan" and amount and amount[0].isdigit() and amount.count(".") < 2 \
            and len(amount.split(".")[-1]) <= 2:
        assert "罚款金额" in exc.value.message
        assert "第五十七条" in exc.value.message or "第六十八条" in exc.value.message \
            or "请填写" in exc.value.message


def test_a_decision_keeps_basis_text_officer_and_time_and_is_audited(world):
    landlord = _landlord(world)
    p = _decide(world, offence_date=date(2026, 2, 3), amount_yuan="800", note="未登记租客两人")
    db.session.commit()
    assert (p.landlord_person_id, p.house_id, p.station_id) == (
        landlord.id, world.a.house.id, world.a.house.station_id)
    assert p.legal_citation.endswith("第六十八条") and "五百元以上一千元以下" in p.legal_text
    assert p.decided_by_officer_id == world.officers["officer_a"].id and p.decided_at == NOW
    row = db.session.execute(select(AuditLog).where(AuditLog.action == "penalty.record")).scalar_one()
    assert row.object_id == p.id and row.detail["basis"] == "zaf-2025-68"
    assert row.detail["amount_yuan"] == "800.00"


def test_an_offence_before_the_table_or_after_today_and_a_house_without_landlord_are_refused(
        world):
    with pytest.raises(RuleError) as exc:
        _decide(world, landlord_person_id=None)
    assert exc.value.field == "landlord_person_id" and "未登记房主" in exc.value.message
    _landlord(world)
    with pytest.raises(RuleError) as exc:
        _decide(world, offence_date=date(2012, 12, 31))
    assert exc.value.field == "offence_date" and "没有可适用的处罚依据" in exc.value.message
    with pytest.raises(RuleError) as exc:
        _decide(world, offence_date=date(2026, 6, 2))  # NOW is 2026-06-01 in Shanghai
    assert exc.value.field == "offence_date" and "晚于今天" in exc.value.message


# -- console -----------------------------------------------------------------------------------

def _form(landlord, **kw):
    """The form as the page posts it, with the key the page made when it was opened."""
    return {"landlord_person_id": str(landlord.id), "offence_date": "2026-01-01", "kind": "fine",
            "amount_yuan": "600", "note": "未按规定登记承租人",
            "idempotency_key": secrets.token_hex(16), **kw}


def test_a_double_click_on_the_form_records_one_decision(client, world):
    landlord = _landlord(world)
    login(client, "officer_a")
    page = client.get(f"/console/penalties/new?house={world.a.house.id}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', page).group(1)
    url = f"/console/penalties/new?house={world.a.house.id}"
    first = client.post(url, data=_form(landlord, idempotency_key=key))
    second = client.post(url, data=_form(landlord, idempotency_key=key))
    assert first.status_code == second.status_code == 303
    assert first.location == second.location
    assert db.session.execute(select(func.count(Penalty.id))).scalar() == 1
    without = client.post(url, data=_form(landlord, idempotency_key=""))
    assert without.status_code == 400 and "提交编号" in without.get_data(as_text=True)
    assert db.session.execute(select(func.count(Penalty.id))).scalar() == 1


def test_from_a_house_the_decision_shows_on_the_house_and_landlord_pages(client, world):
    landlord = _landlord(world)
    login(client, "officer_a")
    house_page = client.get(f"/console/houses/{world.a.house.id}").get_data(as_text=True)
    assert f"/console/penalties/new?house={world.a.house.id}" in house_page
    form = client.get(f"/console/penalties/new?house={world.a.house.id}").get_data(as_text=True)
    assert "王*东" in form and "第五十七条" in form and "第六十八条" in form
    resp = client.post(f"/console/penalties/new?house={world.a.house.id}", data=_form(landlord))
    assert resp.status_code == 303
    detail = client.get(resp.location).get_data(as_text=True)
    assert "治安管理处罚法》（2025年修订）第六十八条" in detail and "罚款 600 元" in detail
    assert "甲民警" in detail and "2026年1月1日" in detail
    house_page = client.get(f"/console/houses/{world.a.house.id}").get_data(as_text=True)
    assert "罚款 600 元" in house_page and "record.pdf" in house_page
    person_page = client.get(f"/console/persons/{landlord.id}").get_data(as_text=True)
    assert "处罚决定 第" in person_page and "罚款 600 元" in person_page


def test_an_out_of_range_amount_is_refused_on_the_page_naming_the_field(client, world):
    landlord = _landlord(world)
    login(client, "officer_a")
    resp = client.post(f"/console/penalties/new?house={world.a.house.id}",
                       data=_form(landlord, offence_date="2025-12-31", amount_yuan="600"))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'data-error-field="amount_yuan"' in page
    assert "罚款金额超出法定幅度" in page and "200元以上500元以下" in page
    assert 'value="600"' in page  # what was typed is kept
    bad_date = client.post(f"/console/penalties/new?house={world.a.house.id}",
                           data=_form(landlord, offence_date="2026-13-01"))
    assert bad_date.status_code == 400 and "违法行为发生日期" in bad_date.get_data(as_text=True)
    assert db.session.execute(select(func.count(Penalty.id))).scalar() == 0


def test_another_station_cannot_open_the_form_the_decision_or_its_pdf(client, world):
    landlord = _landlord(world)
    p = _decide(world)
    miss = _missed(world, landlord, found=datetime(2026, 5, 1))
    db.session.commit()
    login(client, "officer_b")
    assert client.get(f"/console/penalties/new?house={world.a.house.id}").status_code == 404
    assert client.post(f"/console/penalties/new?house={world.a.house.id}",
                       data=_form(landlord)).status_code == 404
    assert client.get(f"/console/penalties/new?missed={miss.id}").status_code == 404
    assert client.get(f"/console/penalties/{p.id}").status_code == 404
    assert client.get(f"/console/penalties/{p.id}/record.pdf").status_code == 404
    assert client.get("/console/penalties/new").status_code == 404
    assert db.session.execute(select(func.count(Penalty.id))).scalar() == 1


def test_from_a_missed_registration_the_form_takes_its_landlord_and_date_once(client, world):
    landlord = _landlord(world)
    miss = _missed(world, landlord, found=datetime(2026, 4, 30, 17, 0))  # 5月1日 in Shanghai
    login(client, "officer_a")
    form = client.get(f"/console/penalties/new?missed={miss.id}").get_data(as_text=True)
    assert 'data-testid="from-missed"' in form and 'value="2026-05-01"' in form
    resp = client.post(f"/console/penalties/new?missed={miss.id}", data=_form(
        landlord, offence_date="2026-05-01", minor="1", kind="warning", amount_yuan=""))
    assert resp.status_code == 303
    p = db.session.execute(select(Penalty)).scalar_one()
    assert (p.missed_registration_id, p.kind, p.minor, p.amount_yuan) == (miss.id, "warning",
                                                                          True, None)
    again = client.post(f"/console/penalties/new?missed={miss.id}", data=_form(landlord))
    assert again.status_code == 409 and "已作出处罚决定" in again.get_data(as_text=True)
    with pytest.raises(StateConflict):
        penalties.record_penalty(world.officers["officer_a"], penalties.target_for_missed(
            miss.id, world.officers["officer_a"]), landlord_person_id=landlord.id,
            offence_date=date(2026, 5, 1), kind="fine", amount_yuan="500", minor=False)


def test_the_pdf_record_is_one_page_and_cites_the_article(client, world):
    _landlord(world)
    p = _decide(world, note="未登记租客")
    db.session.commit()
    login(client, "officer_a")
    resp = client.get(f"/console/penalties/{p.id}/record.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(resp.data))
    text = "".join(reader.pages[0].extract_text().split())
    assert len(reader.pages) == 1
    assert "《中华人民共和国治安管理处罚法》（2025年修订）第六十八条" in text
    assert "处五百元以上一千元以下罚款；情节较轻的，处警告或者五百元以下罚款" in text
    assert "处罚决定记录" in text and "罚款500元" in text and "甲民警" in text
    assert "2026年06月01日10:00（北京时间）" in text


# -- re-offence awareness -----------------------------------------------------------------------

@pytest.mark.parametrize("earlier, repeat", [
    (datetime(2025, 7, 1, 4), True),   # 11 months before the offence of 2026-06-01
    (datetime(2025, 6, 1, 4), True),   # exactly 12 months before: still within
    (datetime(2025, 5, 31, 4), False),  # 12 months and a day
    (datetime(2025, 5, 1, 4), False),  # 13 months before
])
def test_a_repeat_within_12_months_is_highlighted(client, world, earlier, repeat):
    landlord = _landlord(world)
    _missed(world, landlord, found=earlier)
    _decide(world, offence_date=date(2026, 6, 1))
    db.session.commit()
    record = penalties.landlord_record(landlord, world.officers["officer_a"])
    assert [e.kind for e in record.entries] == ["penalty", "missed"]
    assert [e.repeat for e in record.entries] == [repeat, False]
    login(client, "officer_a")
    page = client.get(f"/console/persons/{landlord.id}").get_data(as_text=True)
    assert ('data-testid="repeat"' in page) is repeat
    assert ('data-testid="repeat-banner"' in page) is repeat
    form = client.get(f"/console/penalties/new?house={world.a.house.id}").get_data(as_text=True)
    assert 'data-testid="landlord-record"' in form and "漏登（抽查）" in form


def test_a_penalty_on_a_missed_registration_is_the_same_offence_not_a_repeat(world):
    landlord = _landlord(world)
    miss = _missed(world, landlord, found=datetime(2026, 5, 1, 4))
    officer = world.officers["officer_a"]
    penalties.record_penalty(officer, penalties.target_for_missed(miss.id, officer),
                             landlord_person_id=landlord.id, offence_date=date(2026, 5, 1),
                             kind="fine", amount_yuan="500", minor=False, now=NOW)
    db.session.commit()
    record = penalties.landlord_record(landlord, officer)
    assert len(record.entries) == 2 and record.repeats == 0
    assert [e.day for e in record.offences_within(date(2026, 6, 1))] == [date(2026, 5, 1)]
    assert record.offences_within(date(2026, 6, 1), exclude_missed_id=miss.id) == []


def test_the_year_before_a_leap_day_is_the_28th_of_february():
    assert penalties.year_before(date(2028, 2, 29)) == date(2027, 2, 28)
    assert penalties.year_before(date(2026, 1, 15)) == date(2025, 1, 15)


def test_a_broken_table_of_laws_stops_the_app_from_starting(app_config, tmp_path, monkeypatch):
    from app import create_app

    broken = tmp_path / "legal_bases.json"
    broken.write_text('{"bases": [{"key": "x"}]}', encoding="utf-8")
    monkeypatch.setattr(legal_basis, "TABLE_FILE", str(broken))
    legal_basis.table.cache_clear()
    try:
        with pytest.raises(ValueError, match="malformed legal-basis table"):
            create_app(app_config)
    finally:
        monkeypatch.undo()
        legal_basis.table.cache_clear()
    assert legal_basis.table()[-1].key == "zaf-2025-68"


def test_another_station_sees_nothing_of_the_landlords_record(world):
    landlord = _landlord(world)
    _missed(world, landlord, found=datetime(2026, 5, 1))
    _decide(world)
    db.session.commit()
    assert len(penalties.landlord_record(landlord, world.officers["officer_a"]).entries) == 2
    assert penalties.landlord_record(landlord, world.officers["officer_b"]).entries == []
    assert len(penalties.landlord_record(landlord, world.officers["branch_admin"]).entries) == 2


def test_a_missed_registration_without_a_house_asks_for_the_house_first(client, world):
    landlord = _landlord(world)
    miss = _missed(world, landlord, found=datetime(2026, 5, 1))
    miss.house_id = None
    db.session.commit()
    login(client, "officer_a")
    resp = client.get(f"/console/penalties/new?missed={miss.id}")
    assert resp.status_code == 400 and "尚未查明居住的房屋" in resp.get_data(as_text=True)


def test_the_database_keeps_one_decision_per_missed_registration(world):
    from sqlalchemy.exc import IntegrityError

    landlord = _landlord(world)
    miss = _missed(world, landlord, found=datetime(2026, 5, 1))
    officer = world.officers["officer_a"]
    row = dict(landlord_person_id=landlord.id, house_id=world.a.house.id,
               station_id=world.a.house.station_id, missed_registration_id=miss.id,
               offence_date=date(2026, 5, 1), legal_basis="x", decided_by_officer_id=officer.id)
    db.session.add(Penalty(**row))
    db.session.commit()
    db.session.add(Penalty(**row))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.add_all([Penalty(**dict(row, missed_registration_id=None)) for _ in range(2)])
    db.session.commit()  # decisions from a house carry no 漏登: any number of them
