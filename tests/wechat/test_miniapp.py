"""Mini-program login: code2session through the real client, an expiring app token, no session_key out."""
from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from app.models import WeChatUser
from wechat.miniapp import session_key_of
from wechat.sandbox import store


def _login(client, code):
    return client.post("/api/v1/auth/wxlogin", json={"code": code})


def test_wxlogin_exchanges_the_code_and_returns_a_working_app_token(client, db):
    user = store.create_user("小程序用户")
    response = _login(client, store.issue_js_code(user["openid"]))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"token", "token_type", "expires_in"} and body["token_type"] == "Bearer"
    row = db.session.execute(select(WeChatUser).where(WeChatUser.openid == user["miniapp_openid"])).scalar_one()
    assert row.source == "miniapp" and row.unionid == user["unionid"]
    houses = client.get("/api/v1/houses", headers={"Authorization": f"Bearer {body['token']}"})
    assert houses.status_code == 200
    assert client.get("/api/v1/houses").status_code == 401


def test_session_key_stays_on_the_server(client, db):
    user = store.create_user("小程序用户")
    response = _login(client, store.issue_js_code(user["openid"]))
    row = db.session.execute(select(WeChatUser).where(WeChatUser.openid == user["miniapp_openid"])).scalar_one()
    session_key = session_key_of(row.id)
    assert session_key and session_key not in response.get_data(as_text=True)
    assert "session_key" not in response.get_data(as_text=True)


def test_logging_in_twice_is_the_same_user(client, db):
    user = store.create_user("回头客")
    _login(client, store.issue_js_code(user["openid"]))
    _login(client, store.issue_js_code(user["openid"]))
    rows = db.session.execute(select(WeChatUser).where(WeChatUser.openid == user["miniapp_openid"])).scalars().all()
    assert len(rows) == 1


def test_a_used_code_is_refused(client, db):
    user = store.create_user("小程序用户")
    code = store.issue_js_code(user["openid"])
    assert _login(client, code).status_code == 200
    again = _login(client, code)
    assert again.status_code == 400 and again.get_json()["message"].startswith("登录凭证无效")


@pytest.mark.parametrize("payload", [None, {}, {"code": ""}, {"code": 123}, {"code": "x" * 500},
                                     {"code": ["a"]}, "not json"])
def test_missing_or_malformed_codes_get_a_chinese_400(client, db, payload):
    if payload == "not json":
        response = client.post("/api/v1/auth/wxlogin", data="{code", content_type="application/json")
    else:
        response = client.post("/api/v1/auth/wxlogin", json=payload)
    assert response.status_code == 400 and "登录凭证" in response.get_json()["message"]


def test_an_expired_app_token_is_refused(app, client, db, monkeypatch):
    from app import app_tokens

    user = store.create_user("过期用户")
    token = _login(client, store.issue_js_code(user["openid"])).get_json()["token"]
    monkeypatch.setattr(app_tokens, "TOKEN_MAX_AGE", -1)
    assert client.get("/api/v1/houses", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_wechat_unreachable_gives_503_not_500(app, client, db, monkeypatch):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there any more: connection refused
    monkeypatch.setitem(app.config, "WECHAT_API_BASE_URL", f"http://127.0.0.1:{port}/")
    response = _login(client, "any-code")
    assert response.status_code == 503 and "稍后" in response.get_json()["message"]
