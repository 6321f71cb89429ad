"""Console search in a real browser: the query goes in the form body, the address bar and the
history never hold it, the list shows the birth year only, and the reveal shows the full date."""
from __future__ import annotations

import itertools
from datetime import date

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.identity import _check_digit
from app.models import House, Residence
from app.services.accounts.officers import create_officer
from tests.factories import make_address, make_jurisdiction, make_person

PASSWORD = "Liulanqi-ceshi-2026"
NUMBER = "35020319850304123" + _check_digit("35020319850304123")
_n = itertools.count(1)


@pytest.fixture()
def officer(live_server):
    """An officer and a person living in the officer's area, in the live app's DB."""
    n = next(_n)
    with live_server.app.app_context():
        j = make_jurisdiction(f"BRS{n}")
        address = make_address(j["community"])
        house = House(address_id=address.id, station_id=address.station_id,
                      police_area_id=address.police_area_id, is_rental=True, rooms=1)
        db.session.add(house)
        db.session.flush()
        person = make_person(NUMBER, name="欧阳小明", birth_date=date(1985, 3, 4))
        db.session.add(Residence(person_id=person.id, house_id=house.id, declared_by="landlord",
                                 start_date=date(2026, 3, 1), status="active"))
        create_officer(username=f"web_s{n}", password=PASSWORD, name="测试民警",
                       badge_number=f"S{n}", role="officer", branch_id=j["branch"].id,
                       station_id=j["station"].id, police_area_id=j["police_area"].id)
        db.session.commit()
        db.session.remove()
    return f"web_s{n}"


def test_search_by_number_keeps_it_out_of_the_url_and_reveal_shows_the_birth_date(page, officer):
    urls = []
    page.on("request", lambda request: urls.append(request.url))
    page.goto("/console/login")
    page.get_by_label("用户名").fill(officer)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="民警工作台")).to_be_visible()
    page.get_by_label("查询").fill(NUMBER)  # the home page's quick search
    page.get_by_role("button", name="查询").click()
    row = page.get_by_role("row").filter(has_text="350203********")
    expect(row).to_contain_text("1985年生")
    assert "/console/search?s=" in page.url and NUMBER not in page.url
    page.reload()  # an opaque result page can be reloaded without resending the form
    expect(row).to_contain_text("1985年生")
    expect(page.locator("body")).not_to_contain_text("1985-03-04")
    row.get_by_role("link").first.click()  # the name; the address links the house
    expect(page.get_by_text("1985年生")).to_be_visible()
    page.locator("form.reveal-form").first.get_by_placeholder("查看原因（必填）").fill("核对住宿登记")
    page.locator("form.reveal-form").first.get_by_role("button", name="显示完整号码").click()
    expect(page.locator("#full-document")).to_have_text(NUMBER)
    expect(page.locator("#full-birth-date")).to_have_text("1985-03-04")
    assert not [u for u in urls if NUMBER in u or "1985" in u]
