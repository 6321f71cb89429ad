"""In a real browser: times in Beijing time, no raw codes on officer pages, and H5 forms that
show every error at once (issue 14)."""
from __future__ import annotations

import itertools
import re
from datetime import date, datetime

from playwright.sync_api import expect

from app.extensions import db
from app.fakedata import FakeData
from app.models import House, Residence
from app.services.accounts.officers import create_officer
from tests.browser.test_declare_browser import become
from tests.console.helpers import make_declaration
from tests.factories import make_address, make_jurisdiction, make_person

PASSWORD = "Liulanqi-yemian-2026"
RAW_CODES = ["resident_id", "True", "False", "None", "CHN", "wechat_h5", "miniapp", "late_hours",
             "tenants.0"]
_n = itertools.count(1)
fake = FakeData(1414)


def _scene(live_server) -> dict:
    """A declaration made at 15:30 UTC (23:30 in Beijing), its person, and two officers."""
    n = next(_n)
    with live_server.app.app_context():
        j = make_jurisdiction(f"PG{n}")
        address = make_address(j["community"], full_text=f"页面测试路{n}号2幢301室")
        house = House(address_id=address.id, station_id=address.station_id,
                      police_area_id=address.police_area_id, is_rental=True, rooms=2)
        db.session.add(house)
        db.session.flush()
        person = make_person(fake.resident_id(), name="王小二", household_region_code="350203",
                             nationality="CHN", collected_channel="wechat_h5")
        db.session.add(Residence(person_id=person.id, house_id=house.id, start_date=date(2026, 11, 1),
                                 declared_by="landlord", channel="miniapp", status="active"))
        d = make_declaration(address, "needs_review", created_at=datetime(2026, 12, 1, 15, 30),
                             is_late=True, late_hours=50, channel="wechat_h5", payload={
            "house_id": house.id, "address": address.full_text, "tenants": [{
                "person_id": person.id, "name": person.name, "document_type": "resident_id",
                "document_masked": person.document_masked, "nationality": "CHN",
                "residence_id": 1, "start_date": "2026-11-01", "room": None}]},
            reasons=[{"field": "tenants.0.document_number", "message": "该人员在其他房屋登记在住"}])
        d.receipt_code = f"PGK{n:05d}".replace("0", "A").replace("1", "B")
        for username, role in ((f"pg_officer{n}", "officer"), (f"pg_admin{n}", "branch_admin")):
            create_officer(username=username, password=PASSWORD, name="页面民警",
                           badge_number=f"PG{n}{role[0]}", role=role, branch_id=j["branch"].id,
                           station_id=j["station"].id if role == "officer" else None,
                           police_area_id=j["police_area"].id if role == "officer" else None)
        db.session.commit()
        scene = {"declaration_id": d.id, "receipt": d.receipt_code, "person_id": person.id,
                 "officer": f"pg_officer{n}", "admin": f"pg_admin{n}", "n": n,
                 "token": address.qr_token}
        db.session.remove()
    return scene


def _sign_in(page, username):
    page.goto("/console/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="民警工作台")).to_be_visible()


def _raw_codes_on(page) -> list[str]:
    text = page.locator("body").inner_text()
    return [code for code in RAW_CODES if code in text]


def test_a_declaration_made_at_2330_beijing_time_shows_2330(page, live_server):
    scene = _scene(live_server)
    page.goto(f"/r/{scene['receipt']}")
    expect(page.locator("body")).to_contain_text("2026年12月1日 23:30")
    _sign_in(page, scene["officer"])
    page.goto(f"/console/declarations/{scene['declaration_id']}")
    expect(page.locator("body")).to_contain_text("提交于 2026年12月1日 23:30")
    assert "15:30" not in page.locator("body").inner_text()


def test_no_officer_page_shows_a_raw_code(page, live_server):
    scene = _scene(live_server)
    _sign_in(page, scene["officer"])
    for path in (f"/console/declarations/{scene['declaration_id']}", "/console/declarations",
                 f"/console/persons/{scene['person_id']}", "/console/search?q=王小二",
                 f"/console/search?q=页面测试路{scene['n']}号"):
        page.goto(path)
        assert _raw_codes_on(page) == [], path
    page.goto(f"/console/declarations/{scene['declaration_id']}")
    body = page.locator("body")
    expect(body).to_contain_text("居民身份证")
    expect(body).to_contain_text("第1位租客的证件号码")
    expect(body).to_contain_text("逾期2天2小时")
    page.goto(f"/console/persons/{scene['person_id']}")
    expect(page.locator("body")).to_contain_text("福建省厦门市思明区")
    page.context.clear_cookies()  # a fresh sign-in as the branch administrator
    _sign_in(page, scene["admin"])
    page.goto("/console/audit")
    assert _raw_codes_on(page) == [], "/console/audit"
    expect(page.locator("body")).to_contain_text("登录")


def test_h5_form_with_three_wrong_fields_shows_three_messages_at_once(page, live_server):
    scene = _scene(live_server)
    become(page, f"填表的房东{scene['n']}")
    page.goto(f"/h5/a/{scene['token']}")
    page.get_by_role("link", name=re.compile("登记房屋|申请变更房主")).click()
    good = fake.resident_id()
    page.locator("#f-rooms").fill("0")
    page.locator("#f-owner-name").fill("房东丙")
    page.locator("#f-owner-document_number").fill(good[:-1] + ("0" if good[-1] != "0" else "1"))
    page.locator("#f-owner-phone").fill("12345")
    page.locator("form button[type=submit]").last.click()
    expect(page.locator(".field .error")).to_have_count(3)
    expect(page.locator("#e-owner-document_number")).to_have_text("身份证号码有误，请核对最后一位")
    expect(page.locator("#e-owner-phone")).to_contain_text("手机号码有误")
    expect(page.locator("#e-rooms")).to_contain_text("房间数")
    expect(page.get_by_test_id("error-count")).to_contain_text("有3处需要修改")
    # And the way back and home are there.
    expect(page.get_by_role("link", name="首页")).to_be_visible()
