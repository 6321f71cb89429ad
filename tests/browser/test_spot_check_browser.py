"""A spot check submitted on a phone (390 px) while the network is cut: kept on the device,
listed as waiting, sent once when the connection returns."""
from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from app.extensions import db
from app.fakedata import FakeData
from app.models import House, SpotCheck, SpotCheckPerson
from app.services.accounts.officers import create_officer
from tests.factories import make_address, make_jurisdiction

PASSWORD = "Liulanqi-ceshi-2026"
_n = itertools.count(1)
fake = FakeData(391)


@pytest.fixture()
def spot_scene(live_server):
    n = next(_n)
    with live_server.app.app_context():
        j = make_jurisdiction(f"SPT{n}")
        address = make_address(j["community"], full_text=f"抽查路{n}号2幢202室")
        house = House(address_id=address.id, station_id=address.station_id,
                      police_area_id=address.police_area_id, is_rental=True, rooms=2)
        db.session.add(house)
        username = f"spot{n}"
        create_officer(username=username, password=PASSWORD, name="抽查民警",
                       badge_number=f"S{n:04d}", role="officer", branch_id=j["branch"].id,
                       station_id=j["station"].id, police_area_id=j["police_area"].id)
        db.session.commit()
        scene = {"username": username, "token": address.qr_token, "house_id": house.id}
        db.session.remove()
    return scene


def _checks(live_server, house_id):
    with live_server.app.app_context():
        count = db.session.execute(select(func.count(SpotCheck.id)).where(
            SpotCheck.house_id == house_id)).scalar()
        persons = db.session.execute(select(func.count(SpotCheckPerson.id)).join(SpotCheck).where(
            SpotCheck.house_id == house_id)).scalar()
        db.session.remove()
    return count, persons


def test_a_spot_check_sent_offline_is_kept_and_sent_once_when_back_online(browser, live_server,
                                                                          spot_scene):
    context = browser.new_context(base_url=live_server.url, locale="zh-CN",
                                  viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, permissions=["geolocation"],
                                  geolocation={"latitude": 24.4798, "longitude": 118.0894})
    context.set_default_timeout(15000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/console/login")
        page.get_by_label("用户名").fill(spot_scene["username"])
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", name="民警工作台")).to_be_visible()
        page.goto("/console/spot-checks")
        page.get_by_label("门牌码（扫码后粘贴或手工输入）").fill(spot_scene["token"])
        page.get_by_role("button", name="查找房屋").click()
        expect(page.locator("#house-address")).to_contain_text("抽查路")
        expect(page.locator("[data-geo-status]")).to_contain_text("已定位")
        row = page.locator("[data-person-row]").first
        row.get_by_placeholder("证件号码").fill(fake.resident_id())
        row.get_by_placeholder("姓名").fill("李漏登")
        row.get_by_placeholder("房间（可选）").fill("202")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        context.set_offline(True)
        page.get_by_role("button", name="提交抽查结果").click()
        expect(page.locator("[data-outbox-count]")).to_have_attribute("data-outbox-count", "1")
        expect(page.locator("[data-outbox-panel]")).to_contain_text("抽查 抽查路")
        assert _checks(live_server, spot_scene["house_id"]) == (0, 0)
        # Pressing submit again while offline still keeps one waiting record, not two.
        page.get_by_role("button", name="已保存在本机，联网后自动发送").click()
        expect(page.locator("[data-outbox-item]")).to_have_count(1)

        context.set_offline(False)
        expect(page.locator("[data-outbox-item]")).to_have_count(0)
        assert _checks(live_server, spot_scene["house_id"]) == (1, 1)
        # The waiting list stays empty on the next page and nothing is sent again.
        page.goto("/console/spot-checks")
        expect(page.locator("[data-spot-check]")).to_have_count(1)
        expect(page.locator("[data-outbox-item]")).to_have_count(0)
        assert page.evaluate("window.localStorage.getItem('anju.field.outbox')") == "[]"
        assert _checks(live_server, spot_scene["house_id"]) == (1, 1)
        assert errors == []
    finally:
        context.close()


def test_a_landlord_signs_on_the_screen_and_the_house_is_collected(browser, live_server,
                                                                   spot_scene):
    with live_server.app.app_context():
        house = db.session.get(House, spot_scene["house_id"])
        j_address = make_address(db.session.get(type(house.address.community),
                                                house.address.community_id),
                                 full_text=f"采集路{spot_scene['house_id']}号")
        db.session.commit()
        token = j_address.qr_token
        address_id = j_address.id
        db.session.remove()
    context = browser.new_context(base_url=live_server.url, locale="zh-CN",
                                  viewport={"width": 390, "height": 844})
    context.set_default_timeout(15000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/console/login")
        page.get_by_label("用户名").fill(spot_scene["username"])
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.goto(f"/console/field-collect?token={token}")
        page.get_by_placeholder("房间数").fill("2")
        page.get_by_placeholder("房东证件号码").fill(fake.resident_id())
        page.get_by_placeholder("房东姓名").fill("张老伯")
        page.get_by_placeholder("签名人姓名").fill("张老伯")
        page.locator("[data-signature-pad]").scroll_into_view_if_needed()
        box = page.locator("[data-signature-pad]").bounding_box()
        page.mouse.move(box["x"] + 20, box["y"] + 40)
        page.mouse.down()
        page.mouse.move(box["x"] + 120, box["y"] + 90, steps=8)
        page.mouse.move(box["x"] + 220, box["y"] + 50, steps=8)
        page.mouse.up()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.get_by_role("button", name="提交采集").click()
        expect(page.get_by_role("heading", name=f"采集路{spot_scene['house_id']}号")).to_be_visible()
        with live_server.app.app_context():
            collected = db.session.execute(select(House).where(
                House.address_id == address_id)).scalar_one()
            assert collected.pledge_signature.endswith(".png")
            assert collected.collected_channel == "field"
            db.session.remove()
        assert errors == []
    finally:
        context.close()
