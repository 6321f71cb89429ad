"""Sign-in: back-off per username and client address without telling who exists, sessions that
end server-side, client addresses through trusted proxies, idle timeout, password change, CSRF
on console forms, security headers, rate limit on the sign-in form, same-site next only."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog
from tests.console.helpers import PASSWORD, login
from tests.wechat.test_sandbox_hygiene import EVIL


def test_correct_password_signs_in_and_records_an_audit_row(client, world):
    resp = login(client, "officer_a")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/console/")
    assert client.get("/console/").status_code == 200
    row = db.session.execute(
        select(AuditLog).where(AuditLog.action == "officer.login")).scalar_one()
    assert row.actor_id == world.officers["officer_a"].id


def test_wrong_password_and_unknown_user_get_the_same_chinese_message(client, world):
    wrong = login(client, "officer_a", "wrong-password-1")
    unknown = login(client, "nobody_here", "wrong-password-1")
    assert wrong.status_code == unknown.status_code == 401
    text_wrong, text_unknown = wrong.get_data(as_text=True), unknown.get_data(as_text=True)
    assert "用户名或密码错误" in text_wrong and "用户名或密码错误" in text_unknown


def _clock(monkeypatch, start: float = 1_800_000_000.0):
    """Control the sign-in back-off's clock; returns a function that moves it on."""
    from app.services.accounts import officers

    now = [start]
    monkeypatch.setattr(officers, "_now", lambda: now[0])

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


def from_address(app, ip: str):
    """A test client whose requests come from this peer address."""
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = ip
    return c


def test_five_failures_make_this_address_wait_even_for_the_right_password(client, world,
                                                                          monkeypatch):
    advance = _clock(monkeypatch)
    for _ in range(4):
        assert "用户名或密码错误" in login(client, "officer_a", "bad-password-9").get_data(as_text=True)
    fifth = login(client, "officer_a", "bad-password-9")
    assert "已临时锁定，请 1 分钟后再试" in fifth.get_data(as_text=True)
    right = login(client, "officer_a")
    assert right.status_code == 401 and "已临时锁定" in right.get_data(as_text=True)
    assert db.session.execute(select(AuditLog).where(
        AuditLog.action == "officer.locked")).scalar_one().ip == "127.0.0.1"
    advance(61)
    assert login(client, "officer_a").status_code == 302


def test_each_further_failure_doubles_the_wait(client, world, monkeypatch):
    advance = _clock(monkeypatch)
    for _ in range(5):
        login(client, "officer_a", "bad-password-9")
    waits = []
    for _ in range(3):
        advance(3600)
        text = login(client, "officer_a", "bad-password-9").get_data(as_text=True)
        waits.append(text)
    assert "请 2 分钟后再试" in waits[0]
    assert "请 4 分钟后再试" in waits[1]
    assert "请 8 分钟后再试" in waits[2]
    advance(7 * 60)
    assert "已临时锁定" in login(client, "officer_a").get_data(as_text=True)  # still waiting
    advance(61)
    assert login(client, "officer_a").status_code == 302
    # A successful sign-in forgets the failures: the next mistake is a plain one again.
    client.post("/console/logout")
    assert "用户名或密码错误" in login(client, "officer_a", "bad-password-9").get_data(as_text=True)


def test_a_stranger_failing_from_another_address_cannot_lock_the_officer_out(app, world,
                                                                           monkeypatch):
    _clock(monkeypatch)
    stranger = from_address(app, "198.51.100.7")
    answers = [login(stranger, "officer_a", "guess-guess-1").get_data(as_text=True)
               for _ in range(8)]
    assert "已临时锁定" in answers[-1]
    officer_at_desk = from_address(app, "192.0.2.10")
    assert login(officer_at_desk, "officer_a").status_code == 302
    assert officer_at_desk.get("/console/").status_code == 200


def test_unknown_usernames_lock_the_same_way_so_accounts_cannot_be_enumerated(client, world):
    answers = [login(client, "ghost", "bad-password-9").get_data(as_text=True) for _ in range(6)]
    assert "已临时锁定" not in answers[0]
    assert "已临时锁定" in answers[-1]


def test_deactivated_officer_cannot_sign_in_and_loses_open_sessions(client, world):
    login(client, "officer_a")
    officer = world.officers["officer_a"]
    officer.is_active = False
    db.session.commit()
    assert client.get("/console/").status_code == 302  # the open session ends
    assert login(client, "officer_a").status_code == 401


def test_idle_session_is_signed_out(client, world):
    login(client, "officer_a")
    with client.session_transaction() as sess:
        sess["console_seen"] -= 9 * 3600
    resp = client.get("/console/declarations")
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    assert client.get("/console/").status_code == 302


def test_password_change_requires_the_current_password_and_ends_other_sessions(app, client, world):
    other = app.test_client()
    login(client, "officer_a")
    login(other, "officer_a")
    bad = client.post("/console/password", data={
        "current": "not-it-123456", "new": "Xinmima-2026-abc", "confirm": "Xinmima-2026-abc"})
    assert bad.status_code == 200 and "当前密码不正确" in bad.get_data(as_text=True)
    weak = client.post("/console/password", data={"current": PASSWORD, "new": "short",
                                                  "confirm": "short"})
    assert "至少 10 位" in weak.get_data(as_text=True)
    ok = client.post("/console/password", data={"current": PASSWORD, "new": "Xinmima-2026-abc",
                                                "confirm": "Xinmima-2026-abc"})
    assert ok.status_code == 302
    assert client.get("/console/").status_code == 200  # this session continues
    assert other.get("/console/").status_code == 302  # the other one is signed out
    client.post("/console/logout")
    assert login(client, "officer_a").status_code == 401
    assert login(client, "officer_a", "Xinmima-2026-abc").status_code == 302


def test_console_post_without_csrf_token_is_refused(app, client, world, monkeypatch):
    login(client, "officer_a")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    d = world.a.declarations["review"]
    resp = client.post(f"/console/declarations/{d.id}/decide", data={"action": "approve"})
    assert resp.status_code == 400
    db.session.expire_all()
    assert db.session.get(type(d), d.id).status == "needs_review"
    assert client.post("/console/logout").status_code == 400
    # The sign-in form itself refuses a post without the token too.
    fresh = app.test_client()
    assert fresh.post("/console/login", data={"username": "officer_a",
                                              "password": PASSWORD}).status_code == 401


def test_every_answer_carries_security_headers(client, world):
    resp = client.get("/console/login")
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert "cdn" not in resp.get_data(as_text=True).lower()


def test_bootstrap_is_served_by_the_app_itself(client, world):
    html = client.get("/console/login").get_data(as_text=True)
    assert "/bootstrap/static/css/bootstrap.min.css" in html
    assert client.get("/bootstrap/static/css/bootstrap.min.css").status_code == 200


def test_sign_in_redirects_only_to_console_paths(client, world):
    resp = client.post("/console/login?next=https://evil.example/", data={
        "username": "officer_a", "password": PASSWORD})
    assert resp.headers["Location"].endswith("/console/")


def test_sign_in_form_is_rate_limited(app, app_config, world):
    from app import create_app
    from app.extensions import limiter

    limited = create_app({**app_config, "RATELIMIT_ENABLED": True,
                          "RATELIMIT_STORAGE_URI": "memory://"})
    c = limited.test_client()
    codes = [c.post("/console/login", data={"username": "ghost", "password": "x"}).status_code
             for _ in range(21)]
    assert codes[-1] == 429 and 429 not in codes[:20]
    # The shared Limiter is now switched on, yet the test app (limits off) is not limited.
    assert limiter.enabled
    for _ in range(25):
        assert login(app.test_client(), "ghost", "x").status_code == 401


def _replay(app, cookie_value: str):
    """A fresh client carrying a copy of an old session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie_value)
    return thief


def test_a_session_cookie_replayed_after_sign_out_is_refused(app, client, world):
    login(client, "officer_a")
    stolen = client.get_cookie("session").value
    assert _replay(app, stolen).get("/console/").status_code == 200  # the copy works while live
    assert client.post("/console/logout").status_code == 302
    replayed = _replay(app, stolen).get("/console/declarations")
    assert replayed.status_code == 302 and "/console/login" in replayed.headers["Location"]


def test_a_session_cookie_replayed_after_a_password_change_is_refused(app, client, world):
    login(client, "officer_a")
    stolen = client.get_cookie("session").value
    ok = client.post("/console/password", data={"current": PASSWORD, "new": "Xinmima-2026-abc",
                                                "confirm": "Xinmima-2026-abc"})
    assert ok.status_code == 302
    assert client.get("/console/").status_code == 200  # the session that changed it continues
    assert _replay(app, stolen).get("/console/").status_code == 302


def _proxied_app(app_config, monkeypatch, hops: int):
    from app import create_app
    from app.extensions import limiter

    monkeypatch.setattr(limiter, "enabled", limiter.enabled)  # restored after the test
    return create_app({**app_config, "TRUSTED_PROXIES": hops})


def _signin_ip() -> str:
    return db.session.execute(select(AuditLog.ip).where(
        AuditLog.action == "officer.login").order_by(AuditLog.id.desc())).scalars().first()


def test_behind_one_trusted_proxy_audit_rows_carry_the_forwarded_client(app_config, world,
                                                                        monkeypatch):
    proxied = _proxied_app(app_config, monkeypatch, 1)
    c = from_address(proxied, "10.0.0.2")  # the load balancer
    resp = c.post("/console/login", data={"username": "officer_a", "password": PASSWORD},
                  headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert resp.status_code == 302
    assert _signin_ip() == "203.0.113.9"


def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(app, world):
    c = from_address(app, "198.51.100.20")
    login_resp = c.post("/console/login", data={"username": "officer_a", "password": PASSWORD},
                        headers={"X-Forwarded-For": "203.0.113.9"})
    assert login_resp.status_code == 302
    assert _signin_ip() == "198.51.100.20"


def test_forged_forwarded_for_does_not_escape_the_back_off(app, world, monkeypatch):
    _clock(monkeypatch)
    c = from_address(app, "198.51.100.30")
    answers = [c.post("/console/login", data={"username": "officer_a", "password": "guess-1"},
                      headers={"X-Forwarded-For": f"203.0.113.{i}"}).get_data(as_text=True)
               for i in range(6)]
    assert "已临时锁定" in answers[-1]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_back_off(app_config, world,
                                                                          monkeypatch):
    _clock(monkeypatch)
    proxied = _proxied_app(app_config, monkeypatch, 1)
    balancer = from_address(proxied, "10.0.0.2")
    for _ in range(6):
        stranger = balancer.post("/console/login", data={"username": "officer_a",
                                                         "password": "guess-1"},
                                 headers={"X-Forwarded-For": "203.0.113.66"})
    assert "已临时锁定" in stranger.get_data(as_text=True)
    officer = balancer.post("/console/login", data={"username": "officer_a", "password": PASSWORD},
                            headers={"X-Forwarded-For": "203.0.113.9"})
    assert officer.status_code == 302


@pytest.mark.parametrize("target", EVIL + ["/console\t/x", "/consolex"])
def test_console_sign_in_never_redirects_off_the_console(client, world, target):
    resp = client.post("/console/login", query_string={"next": target},
                       data={"username": "officer_a", "password": PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/console/"


def test_console_sign_in_keeps_a_console_next(client, world):
    resp = client.post("/console/login?next=/console/declarations",
                       data={"username": "officer_a", "password": PASSWORD})
    assert resp.headers["Location"] == "/console/declarations"


