"""案前比对 in the browser: a station admin uploads case persons, finds the miss in the list,
opens its 漏登 task and closes it with the outcome and the address actually lived at."""
from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.fakedata import FakeData
from app.models import MissedRegistration
from app.services.accounts.officers import create_officer
from tests.factories import make_jurisdiction

PASSWORD = "Liulanqi-ceshi-2026"
_n = itertools.count(1)
fake = FakeData(1215)


@pytest.fixture()
def case_scene(live_server):
    n = next(_n)
    with live_server.app.app_context():
        j = make_jurisdiction(f"CAS{n}")
        username = f"caseadmin{n}"
        create_officer(username=username, password=PASSWORD, name="案前管理员",
                       badge_number=f"C{n:04d}", role="station_admin", branch_id=j["branch"].id,
                       station_id=j["station"].id)
        db.session.commit()
        scene = {"username": username, "station_code": j["station"].code, "n": n}
        db.session.remove()
    return scene


def test_upload_then_list_then_close_the_trace_back_task(browser, live_server, case_scene,
                                                         tmp_path):
    case_number = f"AJ-BROWSER-{case_scene['n']}"
    upload = tmp_path / "cases.csv"
    upload.write_text(
        "证件类型,证件号码,姓名,案件编号,案发日期,案发地派出所代码,是否流动人口\n"
        f"居民身份证,{fake.resident_id()},王浏览,{case_number},2026-11-20,"
        f"{case_scene['station_code']},是\n"
        f"居民身份证,110105194912310000,坏号码,{case_number},2026-11-20,"
        f"{case_scene['station_code']},是\n", encoding="utf-8")
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    context.set_default_timeout(15000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/console/login")
        page.get_by_label("用户名").fill(case_scene["username"])
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", name="民警工作台")).to_be_visible()
        page.get_by_role("link", name="案前比对").click()
        page.locator("#file").set_input_files(str(upload))
        page.get_by_role("button", name="导入", exact=True).click()
        expect(page.locator("#import-status")).to_have_attribute("data-status", "done")
        expect(page.locator("#import-report")).to_contain_text("新导入 1")
        expect(page.locator("#import-errors")).to_contain_text("第 3 行")
        page.get_by_role("link", name="查看本次导入的涉案人员").click()
        row = page.locator("[data-case]")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("漏登")
        row.get_by_role("link", name="详情").click()
        expect(page.locator("#decision")).to_have_attribute("data-registered", "no")
        page.locator("#missed-link").click()
        expect(page.locator("#penalty-link")).to_have_attribute(
            "href", f"/console/penalties/new?missed={_task_id(live_server, case_number)}")
        page.get_by_label("追溯结果").select_option(label="房东未申报")
        page.locator("#address_text").fill("浏览路1号")
        page.get_by_role("button", name="办结").click()
        expect(page.locator("#missed-status")).to_have_attribute("data-status", "resolved")
        expect(page.locator("#missed-status")).to_contain_text("房东未申报")
        page.get_by_role("link", name="漏登追溯", exact=True).first.click()
        task_id = _task_id(live_server, case_number)
        expect(page.locator(f"[data-missed='{task_id}']")).to_have_count(0)
        assert errors == []
    finally:
        context.close()


def _task_id(live_server, case_number: str) -> int:
    from app.models import CaseCheck

    with live_server.app.app_context():
        task_id = db.session.execute(select(MissedRegistration.id).join(
            CaseCheck, CaseCheck.id == MissedRegistration.case_check_id).where(
            CaseCheck.case_number == case_number)).scalar_one()
        db.session.remove()
    return task_id
