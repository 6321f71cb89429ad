"""Console sign-in: back-off per username and address, idle timeout, sign-out and password
change that end sessions server-side, and the current officer."""
from __future__ import annotations

import hmac
import time
from functools import wraps

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from app.console import bp
from app.console.forms import LoginForm, LogoutForm, PasswordChangeForm
from app.extensions import SIGNIN_LIMIT, SIGNIN_SCOPE, db, limiter, login_manager
from app.models import Officer
from app.redis_conn import get_redis
from app.services.accounts import audit, officers
from app.services.errors import RuleError
from app.urls import same_site_path

IDLE_TIMEOUT_MINUTES = 8 * 60
FAILED_MESSAGE = officers.FAILED_MESSAGE
LOCKED_MESSAGE = officers.LOCKED_MESSAGE


class ConsoleUser(UserMixin):
    """The signed-in officer as Flask-Login sees it. The id names the officer's session version
    and a stamp of the password hash: signing out or changing the password raises the version,
    and a reset changes the hash, so every cookie issued before is refused from then on."""

    def __init__(self, officer: Officer):
        self.officer = officer

    def get_id(self) -> str:
        return officers.session_stamp(self.officer)

    @property
    def is_active(self) -> bool:
        return bool(self.officer.is_active)


@login_manager.user_loader
def load_user(user_id: str):
    """Rebuild the session's officer; None (signed out) when the account, its session version
    or its password changed since the cookie was issued."""
    officer_id, _, _rest = (user_id or "").partition(".")
    if not officer_id.isdigit():
        return None
    officer = db.session.get(Officer, int(officer_id))
    if officer is None or not officer.is_active:
        return None
    user = ConsoleUser(officer)
    return user if hmac.compare_digest(user.get_id(), user_id) else None


def current_officer() -> Officer:
    """The officer behind the current request (the console views are all login_required)."""
    return current_user.officer


def client_ip() -> str | None:
    """The caller's address: behind TRUSTED_PROXIES hops, the client the proxies name."""
    return (request.remote_addr or "")[:45] or None


def roles_required(*roles):
    """Allow a view only for the given roles (403 for the rest)."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_officer().role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


@bp.before_request
def enforce_idle_timeout():
    """Sign out an officer who has been idle longer than the console allows (default 8 hours)."""
    # g outlives the request when an outer app context is active (tests, scripts): never reuse
    # an officer cached by another request; load this request's own from its session.
    g.pop("_login_user", None)
    if not current_user.is_authenticated:
        return None
    limit = current_app.config.get("CONSOLE_IDLE_MINUTES", IDLE_TIMEOUT_MINUTES) * 60
    now = int(time.time())
    seen = session.get("console_seen")
    if isinstance(seen, int) and now - seen > limit:
        logout_user()
        session.pop("console_seen", None)
        flash("长时间未操作，请重新登录", "warning")
        return redirect(url_for("console.login", next=request.full_path))
    session["console_seen"] = now
    return None


def authenticate(username: str, password: str) -> tuple[Officer | None, str | None]:
    """Check the credentials under the shared back-off rule (app/services/accounts/officers.py);
    a sign-in is audited."""
    try:
        redis = get_redis()
        redis.ping()
    except Exception:  # noqa: BLE001 - Redis down: sign-in still works, only without back-off
        current_app.logger.warning("sign-in back-off unavailable (Redis)")
        redis = None
    return officers.sign_in(redis, username, password, client_ip())


def _safe_next(target: str | None) -> str:
    # Only same-site console paths: never an open redirect to another host.
    target = same_site_path(target)
    if target and (target == "/console" or target.startswith(("/console/", "/console?"))):
        return target
    return url_for("console.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.shared_limit(SIGNIN_LIMIT, scope=SIGNIN_SCOPE, methods=["POST"])
def login():
    """Sign-in page: username and password, waits that grow after 5 failures."""
    if current_user.is_authenticated:
        return redirect(url_for("console.index"))
    form, error = LoginForm(), None
    if form.validate_on_submit():
        officer, error = authenticate(form.username.data.strip(), form.password.data)
        db.session.commit()  # the sign-in's audit row, or the failure count when it failed
        if officer is not None:
            return _signed_in(officer)
    elif request.method == "POST":
        error = "请输入用户名和密码"
    return render_template("console/login.html", form=form, error=error), 200 if error is None else 401


def _signed_in(officer: Officer):
    session.clear()  # a fresh session on sign-in: nothing carried over from before
    login_user(ConsoleUser(officer))
    session.permanent = True
    session["console_seen"] = int(time.time())
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
@login_required
def logout():
    """Sign out (POST with the CSRF token, so a link on another site cannot sign officers out)."""
    if not LogoutForm().validate_on_submit():
        abort(400)
    officer = current_officer()
    audit.record(officer, "officer.logout", "officer", officer.id, ip=client_ip())
    officers.end_sessions(officer)  # a copy of this cookie replayed later is refused
    db.session.commit()
    logout_user()
    session.clear()
    flash("已退出登录", "info")
    return redirect(url_for("console.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password; every other session of this account ends."""
    form, officer = PasswordChangeForm(), current_officer()
    if form.validate_on_submit():
        try:
            officers.change_own_password(officer, form.current.data, form.new.data, ip=client_ip())
        except RuleError as exc:
            getattr(form, exc.field).errors.append(exc.message)
        else:
            db.session.commit()
            login_user(ConsoleUser(officer))  # re-issue this session under the new stamp
            flash("密码已修改", "success")
            return redirect(url_for("console.index"))
    return render_template("console/password.html", form=form)
