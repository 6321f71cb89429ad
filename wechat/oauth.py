"""WeChat web OAuth for the H5 pages: who is holding the phone, as a signed session cookie.

Each attempt gets a fresh random `state`, kept in the (signed) session and checked on return
(wechatpy does not check it); each `code` is exchanged at most once (Redis SET NX); the openid
that comes back becomes the H5 identity. A bad, replayed or foreign state or code gives a clear
Chinese page and no identity.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from urllib.parse import urlencode

from flask import (
    Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for,
)
from limits import parse_many
from wechatpy.exceptions import WeChatClientException, WeChatOAuthException

from app.extensions import OAUTH_CALLBACK_LIMIT, OAUTH_ENTRY_LIMIT, db, limiter
from app.models import WeChatUser
from app.redis_conn import get_redis
from app.urls import same_site_path
from wechat import users
from wechat.client import get_oauth

bp = Blueprint("wechat_oauth", __name__, url_prefix="/wechat/oauth")

SESSION_OPENID = "wx_openid"
SESSION_STATES = "wx_oauth_states"
# Several tabs may start OAuth at once; keep the latest few attempts, each valid 10 minutes.
MAX_PENDING_STATES = 5
STATE_TTL = 600
USED_CODE_KEY = "anju:wechat:oauth_code_used:{digest}"
SCOPES = ("snsapi_base", "snsapi_userinfo")


def current_wechat_user() -> WeChatUser | None:
    """The WeChat user of this H5 session (from the signed cookie), or None before OAuth."""
    openid = session.get(SESSION_OPENID)
    openid = openid if isinstance(openid, str) and openid else None
    # Cached per openid, not per g: g outlives a request when an app context is already pushed.
    if g.get("wx_user_openid", "-") != openid:
        g.wx_user = users.by_openid(openid) if openid else None
        g.wx_user_openid = openid
    return g.wx_user


def _safe_next(target: str | None) -> str:
    return same_site_path(target) or "/"


def _entry_allowed() -> bool:
    # Counted by hand, not with a decorator: this runs inside whichever H5 view needs an
    # identity, and Flask-Limiter's in-view form would change how those views are limited.
    if not (limiter.enabled and current_app.config.get("RATELIMIT_ENABLED", True)):
        return True
    try:
        return all([limiter.limiter.hit(item, "wechat-oauth-entry", request.remote_addr or "-")
                    for item in parse_many(OAUTH_ENTRY_LIMIT)])
    except Exception:  # noqa: BLE001 - storage down: as for every limit, let the visitor in
        current_app.logger.exception("oauth entry rate limit unavailable")
        return True


def authorize_redirect(next_path: str, scope: str = "snsapi_base"):
    """Start one OAuth attempt: a fresh state in the session, then WeChat's authorize page."""
    if not _entry_allowed():
        abort(429)
    state = secrets.token_urlsafe(24)
    now = int(time.time())
    pending = {k: v for k, v in (session.get(SESSION_STATES) or {}).items()
               if isinstance(v, dict) and now - int(v.get("at", 0)) < STATE_TTL}
    pending[state] = {"next": _safe_next(next_path), "scope": scope, "at": now}
    session[SESSION_STATES] = dict(sorted(pending.items(), key=lambda kv: kv[1]["at"])
                                   [-MAX_PENDING_STATES:])
    query = urlencode({"appid": current_app.config["WECHAT_APP_ID"],
                       "redirect_uri": url_for("wechat_oauth.callback", _external=True),
                       "response_type": "code", "scope": scope, "state": state})
    return redirect(f"{current_app.config['WECHAT_OAUTH_AUTHORIZE_URL']}?{query}#wechat_redirect")


def h5_login_required(view=None, *, scope: str = "snsapi_base"):
    """Send a visitor without an H5 identity through WeChat OAuth, then back to this page."""
    if view is None:
        return functools.partial(h5_login_required, scope=scope)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_wechat_user() is None:
            return authorize_redirect(request.full_path.rstrip("?"), scope)
        return view(*args, **kwargs)

    return wrapper


def _failed(message: str):
    # No identity survives a failed attempt: the cookie must not name anyone afterwards.
    _remember(None)
    return render_template("error.html", code=400, message=message), 400


def _remember(openid: str | None) -> None:
    """This H5 session's identity from now on (None: nobody); the per-request cache is dropped."""
    if openid is None:
        session.pop(SESSION_OPENID, None)
    else:
        session[SESSION_OPENID] = openid
    g.pop("wx_user", None)
    g.pop("wx_user_openid", None)


def _take_state(state: str) -> dict | None:
    pending = session.get(SESSION_STATES) or {}
    found = None
    for known, attempt in pending.items():
        if hmac.compare_digest(known.encode(), state.encode("utf-8", "replace")):
            found = known
    if found is None:
        return None
    attempt = pending.pop(found)  # single use, whatever happens next
    session[SESSION_STATES] = pending
    if not isinstance(attempt, dict) or time.time() - int(attempt.get("at", 0)) > STATE_TTL:
        return None
    return attempt


def _first_use(code: str) -> bool:
    digest = hashlib.sha256(code.encode("utf-8")).hexdigest()
    return bool(get_redis().set(USED_CODE_KEY.format(digest=digest), 1, nx=True, ex=STATE_TTL))


class _Refused(Exception):
    """An OAuth return that signs nobody in; the message is the Chinese page shown."""


def _checked_return(code: str, state: str) -> dict:
    """The attempt a returning browser belongs to, once its state and code pass every check."""
    if not state or len(state) > 128:
        raise _Refused("授权链接无效：缺少或错误的 state。请回到微信重新打开页面。")
    attempt = _take_state(state)
    if attempt is None:
        raise _Refused("授权已失效或不是本次发起的，请回到微信重新打开页面。")
    if not code or len(code) > 256:
        raise _Refused("您没有同意授权，无法确认身份。请回到微信重新打开页面。")
    if not _first_use(code):
        raise _Refused("该授权码已使用过，请回到微信重新打开页面。")
    return attempt


def _exchange(code: str, scope: str) -> tuple[str, dict, dict]:
    """The code exchanged for (openid, grant, profile); the profile only with snsapi_userinfo."""
    oauth = get_oauth(url_for("wechat_oauth.callback", _external=True), scope=scope)
    try:
        grant = oauth.fetch_access_token(code)
        openid = grant.get("openid")
        if not isinstance(openid, str) or not openid or len(openid) > 64:
            raise _Refused("微信没有返回有效的用户身份，请稍后重试。")
        profile = (oauth.get_user_info(openid, grant.get("access_token"))
                   if scope == "snsapi_userinfo" and grant.get("scope") == "snsapi_userinfo"
                   else {})
    except WeChatOAuthException as exc:
        current_app.logger.info("oauth code exchange refused: %s", exc.errcode)
        raise _Refused("授权码无效或已过期，请回到微信重新打开页面。") from None
    return openid, grant, profile


def _signed_in_user(openid: str, grant: dict, profile: dict) -> WeChatUser:
    user = users.upsert(openid, unionid=grant.get("unionid") or profile.get("unionid"))
    if profile.get("nickname") and not user.nickname:
        user.nickname = str(profile["nickname"])[:64]
    return user


@bp.get("/callback")
@limiter.limit(OAUTH_CALLBACK_LIMIT)
def callback():
    """Where WeChat sends the browser back: check state, exchange the code once, sign in."""
    code = request.args.get("code", "")
    try:
        attempt = _checked_return(code, request.args.get("state", ""))
        scope = attempt.get("scope") if attempt.get("scope") in SCOPES else "snsapi_base"
        openid, grant, profile = _exchange(code, scope)
    except _Refused as exc:
        return _failed(str(exc))
    except (WeChatClientException, OSError) as exc:  # requests errors are OSErrors
        current_app.logger.warning("oauth code exchange failed: %s", type(exc).__name__)
        return render_template("error.html", code=503, message="微信暂时无法确认您的身份，请稍后重试。"), 503
    _signed_in_user(openid, grant, profile)
    db.session.commit()
    _remember(openid)
    return redirect(attempt.get("next") or "/")
