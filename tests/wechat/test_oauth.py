"""H5 OAuth through the sandbox's authorize page: state per attempt, codes used once, clear failures."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app.models import WeChatUser
from tests.factories import make_address, make_jurisdiction
from wechat.sandbox import store
from wechat.sandbox.simulator import COOKIE


@pytest.fixture()
def plate(db):
    address = make_address(make_jurisdiction()["community"], full_text="丰泽区东海街道东海湾小区5幢1801室")
    db.session.commit()
    return address


def _as_sandbox_user(client, nickname="测试房东") -> dict:
    user = store.create_user(nickname, subscribed=True)
    client.set_cookie(COOKIE, user["openid"])
    return user


def _start(client, path: str):
    """Open an H5 page without identity: returns (authorize location, state)."""
    response = client.get(path)
    assert response.status_code == 302
    location = response.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    return location, query["state"][0]


def _authorize(client, location: str) -> str:
    """The sandbox authorize page (the fake WeChat); returns the callback URL it redirects to."""
    parts = urlsplit(location)
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_h5_page_redirects_to_authorize_with_a_fresh_state_per_attempt(app, client, plate):
    first, state1 = _start(client, f"/h5/a/{plate.qr_token}")
    second, state2 = _start(client, f"/h5/a/{plate.qr_token}")
    assert first.startswith(app.config["WECHAT_OAUTH_AUTHORIZE_URL"] + "?")
    assert first.endswith("#wechat_redirect")
    query = parse_qs(urlsplit(first).query)
    assert query["appid"] == [app.config["WECHAT_APP_ID"]]
    assert query["scope"] == ["snsapi_base"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://localhost/wechat/oauth/callback"]
    assert state1 != state2 and len(state1) >= 20


def test_oauth_makes_the_openid_the_h5_identity_and_returns_to_the_page(client, db, plate):
    user = _as_sandbox_user(client)
    location, _ = _start(client, f"/h5/a/{plate.qr_token}")
    back = client.get(_path(_authorize(client, location)))
    assert back.status_code == 302 and back.headers["Location"] == f"/h5/a/{plate.qr_token}"
    page = client.get(f"/h5/a/{plate.qr_token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"当前地址：{plate.full_text}" in html and "登记房屋" in html and "我是租客" in html
    row = db.session.execute(select(WeChatUser).where(WeChatUser.openid == user["openid"])).scalar_one()
    assert row.last_seen_at is not None
    assert user["openid"] not in page.headers.get("Set-Cookie", "")  # the cookie is signed, not plain


def test_a_replayed_callback_gets_a_clear_page_and_no_identity(client, db, plate):
    _as_sandbox_user(client)
    location, _ = _start(client, f"/h5/a/{plate.qr_token}")
    callback = _path(_authorize(client, location))
    assert client.get(callback).status_code == 302
    replay = client.get(callback)
    assert replay.status_code == 400 and "重新打开" in replay.get_data(as_text=True)
    assert client.get(f"/h5/a/{plate.qr_token}").status_code == 302  # identity gone: OAuth again


def test_a_code_reused_with_a_new_state_is_refused(client, db, plate):
    _as_sandbox_user(client)
    location, _ = _start(client, f"/h5/a/{plate.qr_token}")
    code = parse_qs(urlsplit(_authorize(client, location)).query)["code"][0]
    _, fresh_state = _start(client, f"/h5/a/{plate.qr_token}")
    first = client.get("/wechat/oauth/callback", query_string={"code": code, "state": fresh_state})
    assert first.status_code == 302
    client.get("/wechat/oauth/callback", query_string={"code": "x", "state": "y"})  # drop identity
    _, another_state = _start(client, f"/h5/a/{plate.qr_token}")
    again = client.get("/wechat/oauth/callback", query_string={"code": code, "state": another_state})
    assert again.status_code == 400 and "已使用" in again.get_data(as_text=True)


@pytest.mark.parametrize("state", ["", "forged-state", "x" * 500])
def test_a_wrong_state_gets_a_clear_page_and_no_identity(client, db, plate, state):
    _as_sandbox_user(client)
    location, _ = _start(client, f"/h5/a/{plate.qr_token}")
    code = parse_qs(urlsplit(_authorize(client, location)).query)["code"][0]
    response = client.get("/wechat/oauth/callback", query_string={"code": code, "state": state})
    assert response.status_code == 400 and "微信" in response.get_data(as_text=True)
    assert client.get(f"/h5/a/{plate.qr_token}").status_code == 302


def test_a_state_from_another_browser_is_refused(app, db, plate):
    victim, attacker = app.test_client(), app.test_client()
    _as_sandbox_user(attacker, "攻击者")
    location, _ = _start(attacker, f"/h5/a/{plate.qr_token}")
    attacker_callback = _path(_authorize(attacker, location))
    _start(victim, f"/h5/a/{plate.qr_token}")  # the victim has a state of their own
    response = victim.get(attacker_callback)  # login CSRF: the attacker's code in the victim's browser
    assert response.status_code == 400
    assert victim.get(f"/h5/a/{plate.qr_token}").status_code == 302


def test_an_invalid_code_with_a_valid_state_is_refused(client, db, plate):
    _, state = _start(client, f"/h5/a/{plate.qr_token}")
    response = client.get("/wechat/oauth/callback", query_string={"code": "made-up-code", "state": state})
    assert response.status_code == 400 and "授权码无效" in response.get_data(as_text=True)


def test_a_declined_authorization_without_code_is_refused(client, db, plate):
    _, state = _start(client, f"/h5/a/{plate.qr_token}")
    response = client.get("/wechat/oauth/callback", query_string={"state": state})
    assert response.status_code == 400


def test_unknown_door_plate_is_a_chinese_404_after_login(client, db, plate):
    _as_sandbox_user(client)
    location, _ = _start(client, "/h5/a/no-such-token")
    client.get(_path(_authorize(client, location)))
    response = client.get("/h5/a/no-such-token")
    assert response.status_code == 404 and "没有找到这个门牌" in response.get_data(as_text=True)


def test_userinfo_scope_stores_the_nickname(app, client, db):
    import time

    from wechat.oauth import SESSION_STATES

    user = store.create_user("昵称用户")
    with client.session_transaction() as session:
        session[SESSION_STATES] = {"s-userinfo": {"next": "/h5/me", "scope": "snsapi_userinfo",
                                                  "at": int(time.time())}}
    code = store.issue_oauth_code(user["openid"], app.config["WECHAT_APP_ID"], "snsapi_userinfo")
    response = client.get("/wechat/oauth/callback", query_string={"code": code, "state": "s-userinfo"})
    assert response.status_code == 302 and response.headers["Location"] == "/h5/me"
    row = db.session.execute(select(WeChatUser).where(WeChatUser.openid == user["openid"])).scalar_one()
    assert row.nickname == "昵称用户" and row.unionid == user["unionid"]


def test_an_expired_state_is_refused(app, client, db):
    from wechat.oauth import SESSION_STATES

    user = store.create_user("过期")
    with client.session_transaction() as session:
        session[SESSION_STATES] = {"old": {"next": "/", "scope": "snsapi_base", "at": 1}}
    code = store.issue_oauth_code(user["openid"], app.config["WECHAT_APP_ID"])
    response = client.get("/wechat/oauth/callback", query_string={"code": code, "state": "old"})
    assert response.status_code == 400
