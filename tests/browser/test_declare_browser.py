"""In a real browser through the sandbox: a landlord declares, a tenant confirms, an employer hires."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from app.fakedata import FakeData
from tests.browser.test_sandbox_browser import _address

fake = FakeData(9090)


def become(page, nickname: str) -> None:
    """Create a fake WeChat user in the simulator; the sandbox cookie makes OAuth know them."""
    page.goto("/wechat-sandbox/")
    page.get_by_label("昵称").fill(nickname)
    page.get_by_role("button", name="新建微信用户").click()
    expect(page.get_by_role("heading", name=nickname)).to_be_visible()


def fill_person(page, prefix: str, name: str, number: str) -> None:
    page.locator(f"#f-{prefix}name").fill(name)
    page.locator(f"#f-{prefix}document_number").fill(number)


def test_landlord_scans_registers_signs_declares_two_tenants_and_tenant_confirms(
        page, browser, live_server):
    full_text = "申报测试路18号3幢1单元502室"
    token = _address(live_server, full_text)
    become(page, "申报的房东")
    page.get_by_label("搜索地址").fill("申报测试路18号")
    page.get_by_role("button", name="搜索").click()
    page.get_by_role("button", name=f"扫码 {full_text}").click()
    page.get_by_role("link", name="以该用户身份打开").first.click()
    page.wait_for_url(re.compile(rf"/h5/a/{re.escape(token)}"))
    page.get_by_role("link", name="登记房屋").click()

    expect(page.get_by_test_id("address")).to_have_text(full_text)
    page.get_by_label("出租类型").select_option("shared")
    page.locator("#f-rooms").fill("3")
    fill_person(page, "owner-", "房东甲", fake.resident_id())
    page.locator("#f-owner-phone").fill(fake.mobile())
    page.get_by_role("button", name="下一步：签署治安责任保证书").click()

    expect(page.get_by_role("heading", name="出租房屋治安责任保证书")).to_be_visible()
    page.get_by_label("我已阅读并同意以上保证书").check()
    page.locator("#f-signer_name").fill("房东甲")
    page.get_by_role("button", name="签署").click()
    expect(page.get_by_text("保证书已签署")).to_be_visible()

    page.get_by_role("link", name="申报租客入住").click()
    good = fake.resident_id()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    fill_person(page, "tenants-0-", "租客一", bad)
    page.get_by_role("button", name="再添加一位租客").click()
    tenant_two = fake.resident_id()
    fill_person(page, "tenants-1-", "租客二", tenant_two)
    page.get_by_role("button", name="提交申报").click()
    # The wrong ID is refused next to its field, and nothing typed is lost.
    expect(page.locator("#e-tenants-0-document_number")).to_contain_text("请核对最后一位")
    expect(page.locator("#f-tenants-0-name")).to_have_value("租客一")
    expect(page.locator("#f-tenants-1-document_number")).to_have_value(tenant_two)
    page.locator("#f-tenants-0-document_number").fill(good)
    page.get_by_role("button", name="提交申报").click()

    expect(page.get_by_test_id("submitted")).to_be_visible()
    code = page.get_by_test_id("receipt-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-9]{8}", code)
    page.get_by_role("link", name="查看回执（含二维码）").click()
    expect(page.get_by_test_id("receipt-code")).to_have_text(code)
    expect(page.get_by_text("租*二")).to_be_visible()

    # The tenant, on another phone, first proves who they are (实名核验 in the sandbox), then
    # confirms: a typed document number alone proves nothing.
    context = browser.new_context(base_url=live_server.url, locale="zh-CN",
                                  viewport={"width": 412, "height": 900})
    tenant = context.new_page()
    become(tenant, "租客二本人")
    tenant.goto(f"/h5/confirm/{code}")
    expect(tenant.get_by_test_id("needs-real-name")).to_be_visible()
    tenant.get_by_role("link", name="去实名核验").click()
    tenant.locator("#f-name").fill("租客二")
    tenant.locator("#f-document_number").fill(tenant_two)
    tenant.get_by_role("button", name="开始实名核验").click()
    expect(tenant.get_by_role("heading", name="模拟微信实名核验")).to_be_visible()
    expect(tenant.get_by_test_id("realname-name")).to_have_text("租客二")
    tenant.get_by_role("button", name="核验通过（是本人）").click()
    expect(tenant).to_have_url(re.compile(f"/h5/confirm/{code}$"))
    tenant.get_by_role("button", name="确认无误").click()
    expect(tenant.get_by_test_id("confirmed")).to_be_visible()
    context.close()


def test_employer_registers_and_declares_a_worker(page, live_server):
    office = _address(live_server, "用工测试路1号1幢")
    become(page, "用工单位联系人")
    page.goto(f"/h5/a/{office}")
    page.get_by_role("link", name="用工单位").click()
    page.locator("#f-name").fill("浏览器测试有限公司")
    page.locator("#f-uscc").fill(fake.uscc())
    page.locator("#f-contact_name").fill("王经理")
    page.locator("#f-contact_phone").fill(fake.mobile())
    page.get_by_role("button", name="提交登记").click()
    expect(page.get_by_role("heading", name="浏览器测试有限公司")).to_be_visible()
    fill_person(page, "workers-0-", "新员工", fake.resident_id())
    page.locator("#f-workers-0-job").fill("厨师")
    page.get_by_role("button", name="申报员工入职").click()
    expect(page.get_by_test_id("submitted")).to_be_visible()
