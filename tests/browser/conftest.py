"""Browser tests: the app served live on 127.0.0.1 by werkzeug, driven by Debian's chromium via Playwright.

The live app has its own temporary SQLite database (schema by Alembic) and the in-process Redis
fake unless TEST_REDIS_URL is set. Without /usr/bin/chromium these tests are skipped, except under
CI=true, where a missing browser is a failure.
"""
from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import TEST_KEYS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class LiveServer:
    """The app and the URL it is served at."""

    def __init__(self, app, url: str):
        self.app = app
        self.url = url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium fonts-noto-cjk)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " — required under CI=true")
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def live_server(chromium_path, tmp_path_factory):
    """The app on a free loopback port, in a background thread, against its own SQLite file."""
    from app import create_app
    from app.extensions import db

    os.environ.setdefault("ANJU_INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
    # Bind first, so PUBLIC_BASE_URL (links in WeChat replies) is known when the app is created.
    served = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: served["app"](environ, start), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    db_file = tmp_path_factory.mktemp("live") / "live.sqlite3"
    app = create_app({
        **TEST_KEYS,
        "APP_ENV": "testing",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
        "REDIS_URL": os.environ.get("TEST_REDIS_URL") or None,
        "WECHAT_SANDBOX": True,
        "RATELIMIT_ENABLED": False,
        "PUBLIC_BASE_URL": url,
        "REMINDER_QUIET_START": "00:00", "REMINDER_QUIET_END": "00:00",  # pushes at any hour
    })
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.session.remove()
    served["app"] = app
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(app, url)
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture()
def page(browser, live_server):
    """A fresh browser context (no cookies) per test, with its base URL on the live server."""
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", viewport={"width": 412, "height": 900})
    context.set_default_timeout(15000)
    tab = context.new_page()
    yield tab
    context.close()
