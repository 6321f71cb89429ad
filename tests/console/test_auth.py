"""Sign-in: lockout after 5 failures for 15 minutes without telling who exists, idle timeout,
password change, CSRF on console forms, security headers, rate limit on the sign-in form."""
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, Officer, utcnow
from tests.console.helpers import PASSWORD, login


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


def test_five_failures_lock_the_account_for_15_minutes_even_for_the_right_password(client, world):
    for _ in range(4):
        assert "用户名或密码错误" in login(client, "officer_a", "bad-password-9").get_data(as_text=True)
    fifth = login(client, "officer_a", "bad-password-9")
    assert "已临时锁定" in fifth.get_data(as_text=True)
    right = login(client, "officer_a")
    assert right.status_code == 401 and "已临时锁定" in right.get_data(as_text=True)
    officer = db.session.execute(
        select(Officer).where(Officer.username == "officer_a")).scalar_one()
    db.session.refresh(officer)
    assert officer.locked_until > utcnow() + timedelta(minutes=14)
    # Once the 15 minutes are over, the right password works again.
    officer.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert login(client, "officer_a").status_code == 302


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
