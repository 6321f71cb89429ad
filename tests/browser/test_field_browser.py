"""Control-task items on a phone (390 px) in a real browser: with Geolocation granted the
position is recorded; with it denied the officer must give the reason (DESIGN §3 who/when/where)."""
from __future__ import annotations

import itertools
from datetime import date

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.fakedata import FakeData
from app.models import ControlTask, House, Residence
from app.services.accounts.officers import create_officer
from app.services.police import watch
from tests.factories import make_address, make_jurisdiction, make_person

PASSWORD = "Liulanqi-ceshi-2026"
_n = itertools.count(1)
fake = FakeData(390)


@pytest.fixture()
def task_scene(live_server):
    """A listed person living in the officer's area, hence two open control tasks."""
    n = next(_n)
    with live_server.app.app_context():
        j = make_jurisdiction(f"FLD{n}")
        address = make_address(j["community"], full_text=f"定位路{n}号1幢101室")
        house = House(address_id=address.id, station_id=address.station_id,
                      police_area_id=address.police_area_id, is_rental=True, rooms=2)
        db.session.add(house)
        db.session.flush()
        number = fake.resident_id()
        person = make_person(number, name="关注人")
        db.session.add(Residence(person_id=person.id, house_id=house.id, status="active",
                                 start_date=date(2026, 11, 1), declared_by="landlord",
                                 active_slot=1))
        db.session.flush()
        username = f"field{n}"
        create_officer(username=username, password=PASSWORD, name="外勤民警",
                       badge_number=f"F{n:04d}", role="officer", branch_id=j["branch"].id,
                       station_id=j["station"].id, police_area_id=j["police_area"].id)
        _, created = watch.list_person(document_type="resident_id", document_number=number,
                                       name="关注人", category="重点人员", source="测试")
        db.session.commit()
        scene = {"username": username, "task_id": created[0].id}
        db.session.remove()
    return scene


@pytest.fixture()
def phone(browser, live_server):
    def make(granted: bool):
        options = dict(base_url=live_server.url, locale="zh-CN",
                       viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        if granted:
            options.update(geolocation={"latitude": 24.4798, "longitude": 118.0894},
                           permissions=["geolocation"])
        context = browser.new_context(**options)
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    contexts = []
    yield make
    for context in contexts:
        context.close()


def _sign_in(page, username):
    page.goto("/console/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="民警工作台")).to_be_visible()


def _item(live_server, task_id: int, index: int) -> dict:
    with live_server.app.app_context():
        item = db.session.get(ControlTask, task_id).checklist[index]
        db.session.remove()
    return item


def test_an_item_completed_with_geolocation_granted_records_the_position(phone, task_scene,
                                                                         live_server):
    page = phone(granted=True)
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    _sign_in(page, task_scene["username"])
    page.goto(f"/console/tasks/{task_scene['task_id']}")
    expect(page.locator("[data-geo-status]")).to_contain_text("已定位：24.479800, 118.089400")
    first = page.locator("[data-item=see_person]")
    expect(first.locator("[data-reason-box]")).to_be_hidden()
    first.get_by_placeholder("情况记录（可选）").fill("见到本人")
    first.get_by_role("button", name="完成此项").click()
    expect(page.locator("[data-item=see_person] [data-coords]")).to_have_text("24.47980, 118.08940")
    item = _item(live_server, task_scene["task_id"], 0)
    assert (item["lat"], item["lng"], item["note"]) == (24.4798, 118.0894, "见到本人")
    assert item["officer_name"] == "外勤民警" and item["no_gps_reason"] is None
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing overflows the phone's width
    assert errors == []


def test_an_item_with_geolocation_denied_requires_a_reason(phone, task_scene, live_server):
    page = phone(granted=False)
    _sign_in(page, task_scene["username"])
    page.goto(f"/console/tasks/{task_scene['task_id']}")
    expect(page.locator("[data-geo-status]")).to_contain_text("未能获取定位")
    first = page.locator("[data-item=see_person]")
    reason = first.locator("[data-reason]")
    expect(reason).to_be_visible()
    first.get_by_role("button", name="完成此项").click()
    # The browser refuses the empty required reason: still on the form, nothing recorded.
    assert reason.evaluate("el => el.validity.valueMissing") is True
    assert _item(live_server, task_scene["task_id"], 0)["done_at"] is None
    reason.fill("室内无信号")
    first.get_by_role("button", name="完成此项").click()
    expect(page.locator("[data-item=see_person] [data-no-gps]")).to_have_text("室内无信号")
    item = _item(live_server, task_scene["task_id"], 0)
    assert item["lat"] is None and item["no_gps_reason"] == "室内无信号"
