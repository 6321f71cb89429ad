"""Officer API sign-in: a short-lived bearer token, revoked by sign-out and by every console
sign-out or password change, under the console's own back-off."""
from __future__ import annotations

import time

from app.extensions import db
from tests.console.helpers import login
from tests.police.api import auth, sign_in, token_of


def test_sign_in_gives_a_bearer_token_that_names_the_officer(client, world):
    resp = sign_in(client, "officer_a")
    body = resp.get_json()
    assert resp.status_code == 200 and body["expires_in"] == 12 * 3600
    me = client.get("/api/v1/officer/me", headers=auth(body["token"]))
    assert me.status_code == 200 and me.get_json()["name"] == "甲民警"
    assert me.headers["Cache-Control"] == "no-store"


def test_wrong_password_is_refused_with_the_api_error_body(client, world):
    resp = sign_in(client, "officer_a", "bad-password-9")
    assert resp.status_code == 401
    assert resp.get_json() == {"code": 401, "message": "用户名或密码错误；连续输错 5 次后须等待一段时间才能再试",
                               "fields": {}}


def test_missing_fields_are_named(client, world):
    resp = client.post("/api/v1/officer/sign-in", json={"username": "officer_a"})
    assert resp.status_code == 400 and resp.get_json()["fields"]["password"] == "请输入密码"


def test_requests_without_a_valid_token_are_refused(client, world):
    for headers in ({}, auth("forged-token"), {"Authorization": "Basic abc"}):
        resp = client.get("/api/v1/officer/me", headers=headers)
        assert resp.status_code == 401 and resp.get_json()["message"] == "登录已失效，请重新登录"


def test_sign_out_revokes_the_token(client, world):
    token = token_of(client, "officer_a")
    other = token_of(client, "officer_a")
    assert client.post("/api/v1/officer/sign-out", headers=auth(token)).status_code == 200
    assert client.get("/api/v1/officer/me", headers=auth(token)).status_code == 401
    assert client.get("/api/v1/officer/me", headers=auth(other)).status_code == 200


def test_console_sign_out_ends_every_api_token(app, client, world):
    token = token_of(client, "officer_a")
    console = app.test_client()
    login(console, "officer_a")
    console.post("/console/logout")
    assert client.get("/api/v1/officer/me", headers=auth(token)).status_code == 401


def test_password_change_ends_every_api_token(app, client, world):
    token = token_of(client, "officer_a")
    console = app.test_client()
    login(console, "officer_a")
    resp = console.post("/console/password", data={"current": "Zhengque-mima-2026",
                                                   "new": "Xin-mima-2026-abc",
                                                   "confirm": "Xin-mima-2026-abc"})
    assert resp.status_code == 302
    assert client.get("/api/v1/officer/me", headers=auth(token)).status_code == 401


def test_tokens_expire(client, world, monkeypatch):
    from app.services.accounts import officer_tokens

    monkeypatch.setattr(officer_tokens, "TOKEN_TTL_SECONDS", 1)
    resp = sign_in(client, "officer_a")
    token = resp.get_json()["token"]
    assert resp.get_json()["expires_in"] == 1
    time.sleep(1.6)
    assert client.get("/api/v1/officer/me", headers=auth(token)).status_code == 401


def test_deactivated_officer_token_is_refused(client, world):
    token = token_of(client, "officer_a")
    world.officers["officer_a"].is_active = False
    db.session.commit()
    assert client.get("/api/v1/officer/me", headers=auth(token)).status_code == 401


def test_failures_in_the_console_lock_the_api_sign_in_too(client, world):
    for _ in range(5):
        login(client, "officer_a", "bad-password-9")
    resp = sign_in(client, "officer_a")
    assert resp.status_code == 401 and "已临时锁定" in resp.get_json()["message"]


def test_failures_through_the_api_lock_the_console_too(client, world):
    for _ in range(5):
        sign_in(client, "officer_a", "bad-password-9")
    resp = login(client, "officer_a")
    assert resp.status_code == 401 and "已临时锁定" in resp.get_data(as_text=True)


def test_sign_in_shares_the_console_rate_limit(app_config, world, monkeypatch):
    from app import create_app
    from app.extensions import limiter

    for name in ("enabled", "_storage", "_limiter"):  # the Limiter is shared: restore it after
        monkeypatch.setattr(limiter, name, getattr(limiter, name))
    limited = create_app({**app_config, "RATELIMIT_ENABLED": True})
    with limited.app_context():
        limiter.storage.reset()
        c = limited.test_client()
        for _ in range(10):
            c.post("/console/login", data={"username": "ghost", "password": "x"})
        for _ in range(10):
            c.post("/api/v1/officer/sign-in", json={"username": "ghost2", "password": "x"})
        resp = c.post("/api/v1/officer/sign-in", json={"username": "ghost3", "password": "x"})
        assert resp.status_code == 429 and resp.get_json()["code"] == 429
