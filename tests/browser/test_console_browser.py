"""The officer console in a real browser (phone-sized): sign in, approve a declaration, another
station's officer gets 404 for it, and the door-plate PDF downloads with the expected plates."""
from __future__ import annotations

import io
import itertools
import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.services.accounts.officers import create_officer
from tests.console.helpers import make_declaration
from tests.factories import make_address, make_jurisdiction

PASSWORD = "Liulanqi-ceshi-2026"
_n = itertools.count(1)


@pytest.fixture()
def scene(live_server):
    """Two stations, a declaration waiting in A, and an officer in each, in the live app's DB."""
    n = next(_n)
    with live_server.app.app_context():
        ja, jb = make_jurisdiction(f"BRA{n}"), make_jurisdiction(f"BRB{n}")
        address = make_address(ja["community"], full_text=f"浏览器路{n}号1幢101室")
        extra = [make_address(ja["community"]) for _ in range(4)]
        declaration = make_declaration(address, "needs_review",
                                       payload={"document_number": "110105194912310088",
                                                "name": "王小二", "start_date": "2026-11-20"})
        for username, j in ((f"web_a{n}", ja), (f"web_b{n}", jb)):
            create_officer(username=username, password=PASSWORD, name="测试民警",
                           badge_number=f"W{n}{username[-2]}", role="officer",
                           branch_id=j["branch"].id, station_id=j["station"].id,
                           police_area_id=j["police_area"].id)
        db.session.commit()
        scene = {"declaration_id": declaration.id, "receipt": declaration.receipt_code,
                 "officer_a": f"web_a{n}", "officer_b": f"web_b{n}",
                 "address_ids": [address.id] + [a.id for a in extra],
                 "community_id": ja["community"].id}
        db.session.remove()
    return scene


def _sign_in(page, username):
    page.goto("/console/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="民警工作台")).to_be_visible()


def test_officer_signs_in_and_approves_a_declaration(page, scene):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    _sign_in(page, scene["officer_a"])
    # The menu opens on a phone: Bootstrap's own JS, served locally, runs under the CSP.
    page.get_by_role("button", name="菜单").click()
    expect(page.get_by_role("link", name="审核队列")).to_be_visible()
    page.screenshot(path="/tmp/console_home.png", full_page=True)
    page.goto("/console/declarations")
    page.get_by_role("link", name=scene["receipt"]).click()
    expect(page.get_by_text("110105********0088")).to_be_visible()
    page.screenshot(path="/tmp/console_declaration.png", full_page=True)
    page.get_by_label("审核结果").select_option("approve")
    page.get_by_role("button", name="提交审核结果").click()
    expect(page.locator("h1 [data-status=approved]")).to_have_text("已通过")
    expect(page.get_by_role("alert")).to_contain_text(scene["receipt"])
    assert not [e for e in errors if "Content Security Policy" in e or "404" in e], errors


def test_officer_of_another_station_gets_404_for_the_declaration(page, scene):
    _sign_in(page, scene["officer_b"])
    resp = page.goto(f"/console/declarations/{scene['declaration_id']}")
    assert resp.status == 404
    expect(page.get_by_text("页面不存在")).to_be_visible()
    page.goto("/console/declarations?status=all")
    expect(page.get_by_text(scene["receipt"])).to_have_count(0)


def test_plate_pdf_for_a_community_downloads_with_one_plate_per_address(page, scene):
    from pypdf import PdfReader

    _sign_in(page, scene["officer_a"])
    page.goto(f"/console/addresses?community_id={scene['community_id']}")
    page.screenshot(path="/tmp/console_addresses.png", full_page=True)
    form = page.locator("#community-plates")
    form.get_by_role("combobox").select_option("medium")
    with page.expect_download() as info:
        form.get_by_role("button", name="生成门牌 PDF").click()
    download = info.value
    assert re.fullmatch(r"plates-medium-5\.pdf", download.suggested_filename)
    reader = PdfReader(io.BytesIO(open(download.path(), "rb").read()))
    assert len(reader.pages) == 2  # five medium plates, four to a page
    page.goto(f"/console/addresses?community_id={scene['community_id']}&plate=missing")
    expect(page.get_by_text("没有符合条件的地址")).to_be_visible()
