"""End to end in a real browser: a landlord declares through the sandbox, an officer approves in
the console, and the push arrives in the landlord's sandbox inbox."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from app.extensions import db
from app.fakedata import FakeData
from app.services.accounts.officers import create_officer
from tests.browser.test_declare_browser import become, fill_person
from tests.browser.test_sandbox_browser import _address

fake = FakeData(31337)
PASSWORD = "Shenhe-tuisong-2026"


def _run_queued_jobs(live_server) -> None:
    """With real Redis the live app queues jobs: run them as a worker would (inline mode ran them)."""
    app = live_server.app
    if not app.config.get("REDIS_URL"):
        return
    from rq import SimpleWorker

    from app.redis_conn import get_redis
    from workers.queues import JOB_SERIALIZER, QUEUE_NAMES, get_queue

    with app.app_context():
        SimpleWorker([get_queue(n) for n in QUEUE_NAMES], connection=get_redis(),
                     serializer=JOB_SERIALIZER).work(burst=True)
        db.session.remove()


def test_officer_approval_reaches_the_landlords_sandbox_inbox(page, browser, live_server):
    full_text = "推送测试路6号1幢2单元303室"
    token = _address(live_server, full_text)
    with live_server.app.app_context():
        from app.models import Address

        address = db.session.execute(db.select(Address).where(Address.qr_token == token)).scalar_one()
        create_officer(username="tuisong_suozhang", password=PASSWORD, name="所长",
                       badge_number="TS0001", role="station_admin",
                       branch_id=address.community.station.branch_id,
                       station_id=address.station_id)
        db.session.commit()
        db.session.remove()

    become(page, "等推送的房东")
    simulator_url = page.url
    page.get_by_role("button", name="关注公众号").click()  # pushes reach followers only (43004)
    expect(page.get_by_text("已关注公众号")).to_be_visible()
    page.goto(f"/h5/a/{token}/house")
    page.get_by_label("出租类型").select_option("whole")
    page.locator("#f-rooms").fill("1")
    fill_person(page, "owner-", "房东乙", fake.resident_id())
    page.locator("#f-owner-phone").fill(fake.mobile())
    page.get_by_role("button", name="下一步：签署治安责任保证书").click()
    page.get_by_label("我已阅读并同意以上保证书").check()
    page.locator("#f-signer_name").fill("房东乙")
    page.get_by_role("button", name="签署").click()
    page.get_by_role("link", name="申报租客入住").click()
    fill_person(page, "tenants-0-", "推送租客", fake.resident_id())
    page.get_by_role("button", name="提交申报").click()
    code = page.get_by_test_id("receipt-code").inner_text().strip()
    _run_queued_jobs(live_server)

    officer = browser.new_context(base_url=live_server.url, locale="zh-CN",
                                  viewport={"width": 412, "height": 900}).new_page()
    officer.goto("/console/login")
    officer.get_by_label("用户名").fill("tuisong_suozhang")
    officer.get_by_label("密码").fill(PASSWORD)
    officer.get_by_role("button", name="登录").click()
    officer.goto("/console/declarations?status=all")
    officer.get_by_role("link", name=code).click()
    officer.get_by_label("审核结果").select_option("approve")
    officer.get_by_role("button", name="提交审核结果").click()
    expect(officer.locator("h1 [data-status=approved]")).to_have_text("已通过")
    officer.context.close()
    _run_queued_jobs(live_server)

    page.goto(simulator_url)
    inbox = page.get_by_role("heading", name="收到的推送").locator("xpath=..")
    expect(inbox).to_contain_text("您的申报已审核通过")
    expect(inbox).to_contain_text(code)
    page.screenshot(path="/tmp/landlord_inbox.png", full_page=True)
    assert re.fullmatch(r"[A-Z2-9]{8}", code)
