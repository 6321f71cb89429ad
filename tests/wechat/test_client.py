"""The client factory: shared Redis token, one refresher at a time, timeouts, one 40001 retry."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from wechatpy.exceptions import WeChatClientException

from app.redis_conn import get_redis
from wechat import client as wxclient
from wechat.sandbox import store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def fresh_clients(app, db):
    app.extensions.pop("anju_wechat_clients", None)
    yield
    app.extensions.pop("anju_wechat_clients", None)


def _slow_fetch(monkeypatch, seconds: float = 0.3):
    real = wxclient.AnjuWeChatClient.fetch_access_token

    def slow(self):
        time.sleep(seconds)  # widen the race window: without the lock every waiter would fetch
        return real(self)

    monkeypatch.setattr(wxclient.AnjuWeChatClient, "fetch_access_token", slow)


def test_token_is_fetched_once_and_shared_through_redis(app, fresh_clients):
    token = wxclient.get_client().access_token
    assert store.token_appid(token) == app.config["WECHAT_APP_ID"]
    app.extensions.pop("anju_wechat_clients")  # another process: a new client, same Redis
    assert wxclient.get_client().access_token == token
    assert store.token_calls() == 1


def test_token_is_cached_with_a_ttl_shorter_than_wechats(app, fresh_clients):
    from app.redis_conn import get_redis

    client = wxclient.get_client()
    client.access_token
    ttl = get_redis().ttl(f"{wxclient.STORAGE_PREFIX}:{client.access_token_key}")
    assert 7200 - wxclient.TOKEN_EXPIRY_MARGIN - 5 <= ttl <= 7200 - wxclient.TOKEN_EXPIRY_MARGIN


def test_concurrent_refresh_in_threads_makes_one_token_call(app, fresh_clients, monkeypatch):
    _slow_fetch(monkeypatch)
    tokens, errors = [], []

    def worker():
        with app.app_context():
            try:
                wxclient_instance = wxclient.AnjuWeChatClient(
                    app.config["WECHAT_APP_ID"], app.config["WECHAT_APP_SECRET"],
                    redis=get_redis(),
                    http=wxclient.http_session(), base_url=wxclient.api_base_url(),
                    timeout=wxclient.timeouts())
                tokens.append(wxclient_instance.access_token)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and len(tokens) == 6 and len(set(tokens)) == 1
    assert store.token_calls() == 1


_PROCESS = textwrap.dedent("""
    import sys, time
    from app import create_app
    from wechat import client as wxclient

    real = wxclient.AnjuWeChatClient.fetch_access_token
    def slow(self):
        time.sleep(0.5)  # a slow token call: the other process must wait, not fetch too
        return real(self)
    wxclient.AnjuWeChatClient.fetch_access_token = slow

    app = create_app()
    start_at = float(sys.argv[1])
    with app.app_context():
        wxclient.get_client()  # build everything before the start line
        time.sleep(max(0.0, start_at - time.time()))
        print(wxclient.get_client().access_token)
""")


def test_two_processes_refreshing_at_once_make_one_token_call(app, fresh_clients, tmp_path):
    if not app.config.get("REDIS_URL"):
        pytest.skip("needs real Redis shared by two processes (set TEST_REDIS_URL)")
    env = {**os.environ, "APP_ENV": "testing", "REDIS_URL": app.config["REDIS_URL"],
           "DATABASE_URL": f"sqlite:///{tmp_path}/unused.sqlite3", "WECHAT_SANDBOX": "1",
           "ANJU_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": app.config["SECRET_KEY"],
           "FIELD_ENCRYPTION_KEYS": app.config["FIELD_ENCRYPTION_KEYS"],
           "FIELD_ENCRYPTION_ACTIVE_KEY_ID": app.config["FIELD_ENCRYPTION_ACTIVE_KEY_ID"],
           "BLIND_INDEX_KEY": app.config["BLIND_INDEX_KEY"], "PYTHONPATH": str(ROOT)}
    for key in ("WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_API_BASE_URL"):
        env[key] = app.config[key]
    start_at = str(time.time() + 4)
    procs = [subprocess.Popen([sys.executable, "-c", _PROCESS, start_at], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err[-2000:] for _, err in outputs]
    tokens = {out.strip().splitlines()[-1] for out, _ in outputs}
    assert len(tokens) == 1
    assert store.token_calls() == 1


def test_a_refused_token_is_refreshed_and_the_call_retried_once(app, fresh_clients):
    client = wxclient.get_client()
    old = client.access_token
    store.expire_access_tokens()  # WeChat revoked it (or another system refreshed it)
    answer = client.menu.create({"button": [{"type": "click", "name": "帮助", "key": "HELP"}]})
    assert answer["errcode"] == 0
    assert client.access_token != old and store.token_calls() == 2
    assert [c["errcode"] for c in store.calls("cgi-bin/menu/create")] == [0, 40001]


def test_a_token_refused_twice_is_not_retried_forever(app, fresh_clients, monkeypatch):
    client = wxclient.get_client()

    def bogus_fetch(self):
        self.session.set(self.access_token_key, "bogus-token-" + str(time.time()), 7000)
        return {"access_token": self.session.get(self.access_token_key)}

    monkeypatch.setattr(wxclient.AnjuWeChatClient, "fetch_access_token", bogus_fetch)
    with pytest.raises(WeChatClientException) as caught:
        client.menu.create({"button": [{"type": "click", "name": "帮助", "key": "HELP"}]})
    assert caught.value.errcode == 40001
    assert len(store.calls("cgi-bin/menu/create")) == 2


def test_other_errors_are_not_retried(app, fresh_clients):
    client = wxclient.get_client()
    with pytest.raises(WeChatClientException) as caught:
        client.menu.create({"button": []})
    assert caught.value.errcode == 40016
    assert len(store.calls("cgi-bin/menu/create")) == 1


def test_every_request_carries_the_configured_timeouts(app, fresh_clients, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_HTTP_CONNECT_TIMEOUT", 1.5)
    monkeypatch.setitem(app.config, "WECHAT_HTTP_READ_TIMEOUT", 4.0)
    client = wxclient.get_client()
    seen = []
    real = client._http.request

    def spy(method, url, **kwargs):
        seen.append(kwargs.get("timeout"))
        return real(method, url, **kwargs)

    monkeypatch.setattr(client._http, "request", spy)
    client.menu.create({"button": [{"type": "click", "name": "帮助", "key": "HELP"}]})
    assert len(seen) == 2 and set(seen) == {(1.5, 4.0)}  # token call and the API call


def test_a_silent_server_times_out_instead_of_hanging(app, fresh_clients, monkeypatch):
    import requests

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections (kernel backlog) and never answers
    try:
        monkeypatch.setitem(app.config, "WECHAT_API_BASE_URL", f"http://127.0.0.1:{silent.getsockname()[1]}/")
        monkeypatch.setitem(app.config, "WECHAT_HTTP_READ_TIMEOUT", 0.3)
        started = time.monotonic()
        with pytest.raises(requests.Timeout):
            wxclient.get_client().access_token
        assert time.monotonic() - started < 3
    finally:
        silent.close()


def test_any_other_base_url_goes_over_real_http(app, fresh_clients, monkeypatch):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setitem(app.config, "WECHAT_API_BASE_URL",
                            f"http://127.0.0.1:{server.server_port}/wechat-sandbox/api")
        client = wxclient.get_client()
        assert not any(prefix.startswith(wxclient.SANDBOX_HOST_ORIGIN) for prefix in client._http.adapters)
        assert store.token_appid(client.access_token) == app.config["WECHAT_APP_ID"]
    finally:
        server.shutdown()


def test_flask_wechat_menu_publishes_the_menu_to_the_sandbox(app, fresh_clients):
    result = app.test_cli_runner().invoke(args=["wechat", "menu"])
    assert result.exit_code == 0, result.output
    published = store.menu()
    names = [button["name"] for button in published["button"]]
    assert names == ["我要申报", "我的", "帮助"]
    views = [b["url"] for b in published["button"][1]["sub_button"] if b["type"] == "view"]
    assert all(url.startswith(app.config["PUBLIC_BASE_URL"]) for url in views)


def test_flask_wechat_menu_reports_a_refusal_without_a_traceback(app, fresh_clients, monkeypatch):
    from wechat import menu

    monkeypatch.setattr(menu, "menu_definition", lambda: {"button": []})
    result = app.test_cli_runner().invoke(args=["wechat", "menu"])
    assert result.exit_code != 0 and "40016" in result.output
