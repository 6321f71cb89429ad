"""The database going away mid-request: 503 with Retry-After and the product's own answer on every
surface (JSON in the API, a Chinese page on H5 and the console, "success" to WeChat), never 500;
the first request after it returns succeeds."""
from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event

from app.app_tokens import issue_app_token
from app.extensions import db as _db
from app.models import WeChatUser
from tests.factories import make_address, make_jurisdiction
from tests.h5.test_pages import sign_in
from tests.wechat import wx


@contextlib.contextmanager
def database_gone(app):
    """Every statement fails the way the driver fails when the server has gone away."""
    with app.app_context():
        engine = _db.engine
    dbapi = engine.dialect.dbapi

    def refuse(*_args, **_kwargs):
        if engine.dialect.name == "mysql":
            raise dbapi.OperationalError(2013, "Lost connection to MySQL server during query")
        raise dbapi.OperationalError("disk I/O error")

    hooks = ("do_execute", "do_execute_no_params", "do_executemany")
    for hook in hooks:  # inside the driver call: SQLAlchemy wraps and classifies the error
        event.listen(engine, hook, refuse)
    try:
        yield
    finally:
        for hook in hooks:
            event.remove(engine, hook, refuse)


@pytest.fixture()
def token(db):
    user = WeChatUser(openid=wx.new_openid(), source="miniapp")
    db.session.add(user)
    db.session.commit()
    return issue_app_token(user.id)


def test_api_answers_503_with_retry_after_and_the_error_body_while_the_database_is_away(
        app, client, token):
    headers = {"Authorization": f"Bearer {token}"}
    with database_gone(app):
        resp = client.get("/api/v1/houses", headers=headers)
    assert resp.status_code == 503
    assert resp.headers["Retry-After"].isdigit()
    assert resp.get_json() == {"code": 503, "message": "系统暂时无法处理，请稍后再试", "fields": {}}
    # Back: the very next request is served (the session was thrown away, not left broken).
    assert client.get("/api/v1/houses", headers=headers).status_code == 200


def test_h5_page_answers_a_chinese_503_page_while_the_database_is_away(app, client, db):
    address = make_address(make_jurisdiction()["community"])
    db.session.commit()
    page = f"/h5/a/{address.qr_token}/house"
    sign_in(client, "房东")
    with database_gone(app):
        resp = client.get(page)
    assert resp.status_code == 503 and resp.headers["Retry-After"].isdigit()
    assert "系统暂时无法处理，请稍后再试" in resp.get_data(as_text=True)
    assert client.get(page).status_code == 200


def test_console_login_answers_a_chinese_503_page_while_the_database_is_away(app, client, db):
    with database_gone(app):
        resp = client.post("/console/login", data={"username": "zhang", "password": "x" * 12})
    assert resp.status_code == 503 and resp.headers["Retry-After"].isdigit()
    assert "系统暂时无法处理，请稍后再试" in resp.get_data(as_text=True)


def test_a_signed_in_console_page_answers_503_when_the_database_goes_away_after_sign_in(
        app, client, db):
    """The officer is loaded, then the page's own query fails: the request log line must not
    reload the (now detached) officer and turn the 503 into a 500 (found by bench/console.py)."""
    from tests.console.conftest import world as make_world
    from tests.console.helpers import login

    world = make_world.__wrapped__(db)
    db.session.commit()
    page = f"/console/persons/{world.a.person.id}"
    assert login(client, "officer_a").status_code == 302
    with app.app_context():
        engine = _db.engine
    dbapi = engine.dialect.dbapi

    def refuse_person(_cursor, statement, *_args, **_kwargs):
        if "FROM person" in statement:
            raise dbapi.OperationalError(2013, "Lost connection to MySQL server during query")

    for hook in ("do_execute", "do_execute_no_params"):
        event.listen(engine, hook, refuse_person)
    try:
        resp = client.get(page)
    finally:
        for hook in ("do_execute", "do_execute_no_params"):
            event.remove(engine, hook, refuse_person)
    assert resp.status_code == 503 and "系统暂时无法处理，请稍后再试" in resp.get_data(as_text=True)
    assert client.get(page).status_code == 200


def test_wechat_callback_answers_success_and_handles_the_retry_once_the_database_returns(
        app, client, db):
    xml = wx.text_xml(wx.new_openid(), "帮助")
    with database_gone(app):
        resp = wx.deliver(client, xml)
    # Anything but "success" (or a reply) makes WeChat tell the user the account is broken.
    assert resp.status_code == 503 and resp.get_data(as_text=True) == "success"
    assert resp.headers["Retry-After"].isdigit()
    reply = wx.read_reply(wx.deliver(client, xml))  # WeChat's retry of the same MsgId
    assert reply is not None and "申报" in reply.content


def test_server_databases_pre_ping_and_recycle_pooled_connections(app):
    from app.config import engine_options

    options = engine_options("mysql+pymysql://anju@db.invalid/anju?charset=utf8mb4")
    assert options["pool_pre_ping"] is True and 0 < options["pool_recycle"] < 28800
    assert engine_options("sqlite:///anju.sqlite3") == {}
    with app.app_context():
        if _db.engine.dialect.name != "sqlite":  # the MariaDB pass: the real engine has them
            assert _db.engine.pool._pre_ping is True

