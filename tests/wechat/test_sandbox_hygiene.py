"""Sandbox and OAuth hygiene: simulator forms check CSRF, and every `next` is a same-site path."""
from __future__ import annotations

import re

import pytest

from wechat.sandbox import store

EVIL = ["/\t/evil.example", "/\n/evil.example", "//evil.example", "/\\evil.example",
        "http://evil.example/", "javascript:alert(1)", "https:evil.example", " //evil.example"]


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_simulator_form_without_csrf_token_is_refused_and_changes_nothing(app, client,
                                                                         monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    refused = client.post("/wechat-sandbox/users", data={"nickname": "伪造的用户"})
    assert refused.status_code == 400 and "页面已过期" in refused.get_data(as_text=True)
    assert store.list_users() == []
    forged = client.post("/wechat-sandbox/reset", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    token = _token(client.get("/wechat-sandbox/").get_data(as_text=True))
    made = client.post("/wechat-sandbox/users", data={"nickname": "真用户", "csrf_token": token})
    assert made.status_code == 302 and [u["nickname"] for u in store.list_users()] == ["真用户"]


def test_user_actions_on_the_simulator_need_the_csrf_token(app, client, monkeypatch):
    user = store.create_user("被冒充的人")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert client.post(f"/wechat-sandbox/users/{user['openid']}/subscribe").status_code == 400
    assert not store.get_user(user["openid"])["subscribed"]


@pytest.mark.parametrize("target", EVIL)
def test_simulator_create_user_never_redirects_off_site(client, target):
    answer = client.post("/wechat-sandbox/users", data={"nickname": "甲", "next": target})
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/wechat-sandbox/users/")


@pytest.mark.parametrize("target", EVIL)
def test_simulator_select_user_never_redirects_off_site(client, target):
    user = store.create_user("乙")
    answer = client.post(f"/wechat-sandbox/users/{user['openid']}/select", data={"next": target})
    assert answer.headers["Location"] == f"/wechat-sandbox/users/{user['openid']}"


def test_simulator_keeps_a_same_site_next(client):
    user = store.create_user("丙")
    answer = client.post(f"/wechat-sandbox/users/{user['openid']}/select",
                         data={"next": "/h5/houses?x=1"})
    assert answer.headers["Location"] == "/h5/houses?x=1"


def test_simulator_menu_opens_only_links_of_the_published_menu(client):
    user = store.create_user("丁")
    store.save_menu({"button": [{"type": "view", "name": "申报", "url": "http://localhost/h5/"}]})
    evil = client.post(f"/wechat-sandbox/users/{user['openid']}/menu",
                       data={"type": "view", "value": "https://evil.example/"})
    assert evil.status_code == 302 and "evil.example" not in evil.headers["Location"]
    published = client.post(f"/wechat-sandbox/users/{user['openid']}/menu",
                            data={"type": "view", "value": "http://localhost/h5/"})
    assert published.headers["Location"] == "http://localhost/h5/"


@pytest.mark.parametrize("target", EVIL)
def test_wechat_oauth_keeps_only_a_same_site_return_path(app, db, target):
    from flask import session

    from wechat.oauth import SESSION_STATES, authorize_redirect

    with app.test_request_context("/h5/houses"):
        authorize_redirect(target)
        [attempt] = session[SESSION_STATES].values()
    assert attempt["next"] == "/"
