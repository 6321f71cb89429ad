"""The review queue's pages in a real browser: "下一页" and "上一页" walk 120 declarations in
pages of 50, every one shown once, and a declaration arriving in between shifts nothing."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.services.accounts.officers import create_officer
from tests.console.helpers import make_declaration
from tests.factories import make_address, make_jurisdiction

PASSWORD = "Liulanqi-fenye-2026"
_n = itertools.count(1)


@pytest.fixture()
def queue_scene(live_server):
    n = next(_n)
    with live_server.app.app_context():
        j = make_jurisdiction(f"QPG{n}")
        address = make_address(j["community"], full_text=f"翻页路{n}号1幢101室")
        start = datetime(2026, 10, 1)
        codes = [make_declaration(address, "needs_review",
                                  created_at=start + timedelta(hours=i)).receipt_code
                 for i in range(120)]
        create_officer(username=f"pager{n}", password=PASSWORD, name="翻页民警",
                       badge_number=f"QP{n}", role="officer", branch_id=j["branch"].id,
                       station_id=j["station"].id, police_area_id=j["police_area"].id)
        db.session.commit()
        scene = {"username": f"pager{n}", "codes": codes, "address_id": address.id}
        db.session.remove()
    return scene


def _codes(page) -> list[str]:
    return page.locator("td[data-label='回执号'] a").all_inner_texts()


def test_next_and_previous_pages_show_every_declaration_once(page, queue_scene, live_server):
    page.goto("/console/login")
    page.get_by_label("用户名").fill(queue_scene["username"])
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.goto("/console/declarations")
    first = _codes(page)
    assert first == queue_scene["codes"][:50]
    # A declaration arrives before the officer turns the page; it sorts first (the oldest).
    with live_server.app.app_context():
        from app.models import Address

        late = make_declaration(db.session.get(Address, queue_scene["address_id"]),
                                "needs_review", created_at=datetime(2026, 9, 1)).receipt_code
        db.session.commit()
        db.session.remove()
    page.get_by_role("link", name="下一页").click()
    expect(page.get_by_text("第 2 页")).to_be_visible()
    second = _codes(page)
    assert second == queue_scene["codes"][50:100]  # no row of page 1 again, none skipped
    page.get_by_role("link", name="下一页").click()
    third = _codes(page)
    assert third == queue_scene["codes"][100:]
    expect(page.get_by_role("link", name="下一页")).to_have_count(0)
    page.get_by_role("link", name="上一页").click()
    assert _codes(page) == second
    page.get_by_role("link", name="上一页").click()
    assert _codes(page) == first
    # The declaration that arrived sorts before all of them (the oldest): one more "上一页".
    page.get_by_role("link", name="上一页").click()
    assert _codes(page)[0] == late
