"""A penalty decision in a real browser: from the house page, an amount outside the range is
refused in Chinese, the right one is recorded, shows on the house's and the landlord's pages,
and the printable record (PDF) behind the link cites the article."""
from __future__ import annotations

import io
import itertools

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from app.extensions import db
from app.fakedata import FakeData
from app.models import House
from app.services.accounts.officers import create_officer
from tests.factories import make_address, make_jurisdiction, make_person

PASSWORD = "Liulanqi-ceshi-2026"
_n = itertools.count(1)
fake = FakeData(1213)


@pytest.fixture()
def penalty_scene(live_server):
    n = next(_n)
    with live_server.app.app_context():
        j = make_jurisdiction(f"PEN{n}")
        address = make_address(j["community"], full_text=f"处罚路{n}号3幢303室")
        landlord = make_person(fake.resident_id(), name="赵房东")
        house = House(address_id=address.id, station_id=address.station_id,
                      police_area_id=address.police_area_id, is_rental=True, rooms=2,
                      owner_person_id=landlord.id)
        db.session.add(house)
        username = f"pen{n}"
        create_officer(username=username, password=PASSWORD, name="处罚民警",
                       badge_number=f"CF{n:04d}", role="officer", branch_id=j["branch"].id,
                       station_id=j["station"].id, police_area_id=j["police_area"].id)
        db.session.commit()
        scene = {"username": username, "house_id": house.id, "landlord_id": landlord.id}
        db.session.remove()
    return scene


def test_record_from_the_house_then_timeline_then_pdf(page, penalty_scene):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto("/console/login")
    page.get_by_label("用户名").fill(penalty_scene["username"])
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="民警工作台")).to_be_visible()

    page.goto(f"/console/houses/{penalty_scene['house_id']}")
    page.get_by_test_id("new-penalty").click()
    expect(page.get_by_role("heading", name="记录处罚决定")).to_be_visible()
    expect(page.get_by_test_id("legal-bases")).to_contain_text("第六十八条")
    page.get_by_label("违法行为发生日期").fill("2025-12-31")
    page.get_by_label("罚款金额（元；处警告时不填）").fill("800")
    page.get_by_label("违法事实").fill("未按规定登记承租人两人")
    page.get_by_role("button", name="记录处罚决定").click()
    expect(page.locator("[data-error-field=amount_yuan]")).to_contain_text(
        "罚款金额超出法定幅度")
    expect(page.locator("[data-error-field=amount_yuan]")).to_contain_text("第五十七条")

    page.get_by_label("罚款金额（元；处警告时不填）").fill("400")
    page.get_by_role("button", name="记录处罚决定").click()
    expect(page.locator("#penalty-basis")).to_contain_text("（2012年修正）第五十七条")
    expect(page.locator("#penalty-sanction")).to_have_text("罚款 400 元")
    page.screenshot(path="/tmp/console_penalty.png", full_page=True)

    page.get_by_role("link", name="← 房屋").click()
    expect(page.get_by_test_id("house-penalties")).to_contain_text("罚款 400 元")
    href = page.get_by_test_id("penalty-pdf").first.get_attribute("href")
    pdf = page.request.get(href)
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    text = "".join(PdfReader(io.BytesIO(pdf.body())).pages[0].extract_text().split())
    assert "《中华人民共和国治安管理处罚法》（2012年修正）第五十七条第一款" in text
    assert "不按规定登记承租人姓名、身份证件种类和号码的，处二百元以上五百元以下罚款" in text

    page.goto(f"/console/persons/{penalty_scene['landlord_id']}")
    expect(page.get_by_test_id("landlord-record")).to_contain_text("罚款 400 元")
    expect(page.get_by_test_id("landlord-record")).to_contain_text("2025年12月31日")
    assert not [e for e in errors if "Content Security Policy" in e], errors
