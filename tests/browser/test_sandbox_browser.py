"""In a real browser: a new fake WeChat user scans a door plate in the simulator and lands on its H5 page."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

from playwright.sync_api import expect

from tests.factories import make_address, make_jurisdiction


def _address(live_server, full_text: str) -> str:
    """An active address in the live server's database; returns its door-plate token."""
    from app.extensions import db

    with live_server.app.app_context():
        address = make_address(make_jurisdiction(prefix="BR")["community"], full_text=full_text)
        db.session.commit()
        token = address.qr_token
        db.session.remove()
    return token


def test_new_user_scans_a_plate_and_lands_on_that_address_h5_page(page, live_server):
    full_text = "浏览器测试路8号2幢1单元301室"
    qr_token = _address(live_server, full_text)

    page.goto("/wechat-sandbox/")
    page.get_by_label("昵称").fill("扫码的房东")
    page.get_by_role("button", name="新建微信用户").click()
    expect(page.get_by_role("heading", name="扫码的房东")).to_be_visible()

    page.get_by_label("搜索地址").fill("浏览器测试路8号")
    page.get_by_role("button", name="搜索").click()
    page.get_by_role("button", name=f"扫码 {full_text}").click()

    open_link = page.get_by_role("link", name="以该用户身份打开").first  # the newest reply comes first
    expect(open_link).to_have_attribute("href", re.compile(rf"^{re.escape(live_server.url)}/h5/a/{re.escape(qr_token)}(?:[?#]|$)"))
    open_link.click()

    # WeChat OAuth (the H5 side's) runs through the sandbox authorize page and comes back.
    page.wait_for_url(re.compile(rf"/h5/a/{re.escape(qr_token)}"))
    expect(page.get_by_text(f"当前地址：{full_text}")).to_be_visible()


def test_authorize_page_lets_a_visitor_become_a_fake_user_and_returns_a_code(page, live_server):
    redirect_uri = f"{live_server.url}/wechat-sandbox/?from=oauth"
    with live_server.app.app_context():
        from wechat.sandbox.account import setting

        appid = setting("WECHAT_APP_ID")
    page.goto("/wechat-sandbox/open/connect/oauth2/authorize?" + urlencode({
        "appid": appid, "redirect_uri": redirect_uri, "response_type": "code",
        "scope": "snsapi_base", "state": "browser-state"}) + "#wechat_redirect")
    expect(page.get_by_text("选择以哪个微信用户的身份继续")).to_be_visible()
    page.get_by_label("昵称").fill("授权新用户")
    page.get_by_role("button", name="新建微信用户并继续").click()

    page.wait_for_url(re.compile(r"/wechat-sandbox/\?from=oauth&code="))
    query = parse_qs(urlsplit(page.url).query)
    assert query["state"] == ["browser-state"] and len(query["code"][0]) > 20
    expect(page.get_by_text("授权新用户", exact=True)).to_be_visible()
