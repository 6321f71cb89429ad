"""Item 11: officers read facts, not payloads: labelled Chinese fields, sentences for reasons,
place names for region codes, channels and audit actions in words."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, Employer, House
from app.wording import field_sentence, reason_sentence
from tests.console.helpers import login, make_declaration
from tests.factories import make_address

RAW_CODES = ["resident_id", "True", "False", "None", "CHN", "wechat_h5", "miniapp", "late_hours",
             "tenants.0", "person_id", "house_id"]


def visible_text(html: str) -> str:
    """What a reader sees: no tags, no attributes, no hidden inputs, no scripts."""
    html = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def assert_no_raw_codes(text: str) -> None:
    shown = [code for code in RAW_CODES if code in text]
    assert not shown, shown


def test_field_paths_become_sentences():
    assert field_sentence("tenants.0.document_number") == "第1位租客的证件号码"
    assert field_sentence("workers.2.phone") == "第3位员工的手机号码"
    assert field_sentence("owner.name") == "房主的姓名"
    assert reason_sentence("tenants.1.start_date", "入住日期不能晚于今天") == "第2位租客的入住日期不能晚于今天"
    assert reason_sentence("tenants.0.document_number", "该人员在其他房屋在住") == \
        "第1位租客的证件号码：该人员在其他房屋在住"


def test_move_in_page_shows_labelled_facts_and_reason_sentences(as_officer, world):
    person = world.a.person
    d = make_declaration(world.a.address, "needs_review", is_late=True, late_hours=50, payload={
        "house_id": world.a.house.id, "address": world.a.address.full_text,
        "tenants": [{"person_id": person.id, "name": person.name, "document_type": "resident_id",
                     "document_masked": person.document_masked, "phone_masked": "138****0001",
                     "nationality": "CHN", "residence_id": world.a.residence.id,
                     "start_date": "2026-11-01", "room": None}]},
        reasons=[{"field": "tenants.0.document_number", "message": "该人员在其他房屋登记在住"}])
    db.session.commit()
    text = visible_text(as_officer.get(f"/console/declarations/{d.id}").get_data(as_text=True))
    assert re.search(r"证件类型\s+居民身份证", text) and re.search(r"国籍\s+中国", text)
    assert re.search(r"入住日期\s+2026年11月1日", text)
    assert "逾期2天2小时" in text
    assert "第1位租客的证件号码：该人员在其他房屋登记在住" in text
    assert "微信公众号" in text  # the channel, in words
    assert_no_raw_codes(text)


def test_hire_page_shows_employer_workplace_and_dormitory(as_officer, world):
    workplace = make_address(world.a.jurisdiction["community"], full_text="工业路8号")
    dorm_address = make_address(world.a.jurisdiction["community"], full_text="宿舍路9号3幢201室")
    dorm = House(address_id=dorm_address.id, station_id=dorm_address.station_id,
                 police_area_id=dorm_address.police_area_id, is_rental=True, rooms=4)
    employer = Employer(name="安居电子厂", uscc="91350200MA2XXXXX0X", address_id=workplace.id,
                        station_id=workplace.station_id, police_area_id=workplace.police_area_id)
    db.session.add_all([dorm, employer])
    db.session.flush()
    d = make_declaration(workplace, "needs_review", kind="hire", employer_id=employer.id, payload={
        "employer_id": employer.id, "employer": employer.name, "workers": [
            {"person_id": world.a.person.id, "name": world.a.person.name,
             "document_type": "resident_id", "document_masked": world.a.person.document_masked,
             "nationality": "CHN", "employment_id": 1, "start_date": "2026-11-02", "job": "操作工",
             "dormitory_house_id": dorm.id}]})
    db.session.commit()
    text = visible_text(as_officer.get(f"/console/declarations/{d.id}").get_data(as_text=True))
    assert re.search(r"用工单位\s+安居电子厂", text)
    assert re.search(r"工作地址\s+工业路8号", text)
    assert re.search(r"宿舍地址\s+宿舍路9号3幢201室", text)
    assert re.search(r"入职日期\s+2026年11月2日", text) and "第1位员工" in text
    assert_no_raw_codes(text)


def test_person_page_names_the_household_region_and_the_channel(as_officer, world):
    person = world.a.person
    person.household_region_code, person.nationality = "110105", "CHN"
    person.collected_channel = "miniapp"
    db.session.commit()
    text = visible_text(as_officer.get(f"/console/persons/{person.id}").get_data(as_text=True))
    assert "北京市朝阳区" in text and re.search(r"国籍\s+中国", text) and "小程序" in text
    assert_no_raw_codes(text)


def test_failed_sign_in_is_in_the_audit_log_in_words(client, world):
    client.post("/console/login", data={"username": "officer_a", "password": "wrong-password-1"})
    row = db.session.execute(select(AuditLog).where(
        AuditLog.action == "officer.login_failed")).scalar_one()
    assert row.actor_id == world.officers["officer_a"].id
    login(client, "branch")
    html = client.get("/console/audit").get_data(as_text=True)
    text = visible_text(html)
    assert "登录失败" in text and "officer.login_failed" not in text
    assert '<select class="form-select" name="action"' in html
