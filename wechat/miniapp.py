"""Mini-program login: POST /api/v1/auth/wxlogin {code} → code2session → an expiring app token.

The session_key WeChat returns stays on the server (Redis, for decrypting wx.getPhoneNumber-style
payloads later); the mini-program only ever gets the signed app token naming the WeChatUser.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from wechatpy.exceptions import WeChatClientException

from app.app_tokens import TOKEN_MAX_AGE, issue_app_token
from app.errors import error_body
from app.extensions import db, limiter
from app.redis_conn import get_redis
from wechat import users
from wechat.client import get_json

bp = Blueprint("wechat_miniapp", __name__)

SESSION_KEY = "anju:wechat:session_key:{user_id}"
# WeChat rotates session_key on its own schedule; a stale one is simply replaced at next login.
SESSION_KEY_TTL = 3 * 24 * 3600
MAX_CODE_LENGTH = 128


def _error(status: int, message: str, fields: dict | None = None):
    return jsonify(error_body(status, message, fields)), status


def code2session(js_code: str) -> dict:
    """Exchange a wx.login() code for {openid, session_key, unionid?} (errcode → exception)."""
    config = current_app.config
    return get_json("sns/jscode2session", {
        "appid": config["WECHAT_MINIAPP_ID"], "secret": config["WECHAT_MINIAPP_SECRET"],
        "js_code": js_code, "grant_type": "authorization_code",
    })


def session_key_of(user_id: int) -> str | None:
    """The mini-program session_key of a user, kept server-side only."""
    raw = get_redis().get(SESSION_KEY.format(user_id=user_id))
    return raw.decode() if isinstance(raw, bytes) else raw


class LoginRefused(Exception):
    """A login that gets no token: (HTTP status, Chinese message, per-field messages)."""


def _login_code(body) -> str:
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, str) or not code.strip() or len(code) > MAX_CODE_LENGTH:
        raise LoginRefused(400, "登录凭证缺失或格式错误", {"code": "请提供 wx.login() 返回的 code"})
    if not current_app.config.get("WECHAT_MINIAPP_ID") or not current_app.config.get(
            "WECHAT_MINIAPP_SECRET"):
        raise LoginRefused(503, "小程序登录尚未配置")
    return code.strip()


def _grant(code: str) -> tuple[str, dict]:
    """code2session's (openid, grant), its errcodes and failures made into LoginRefused."""
    try:
        grant = code2session(code)
    except WeChatClientException as exc:
        if exc.errcode == 45011:
            raise LoginRefused(429, "登录过于频繁，请稍后再试") from None
        if exc.errcode in (40029, 40163, 40226):
            raise LoginRefused(400, "登录凭证无效或已使用，请重新登录", {"code": "无效的 code"}) from None
        current_app.logger.warning("code2session refused: %s", exc.errcode)
        raise LoginRefused(502, "微信登录暂时不可用，请稍后再试") from None
    except OSError as exc:  # requests' connection errors and timeouts
        current_app.logger.warning("code2session failed: %s", type(exc).__name__)
        raise LoginRefused(503, "微信登录暂时不可用，请稍后再试") from None
    openid = grant.get("openid")
    if not isinstance(openid, str) or not openid or len(openid) > 64 or not grant.get("session_key"):
        raise LoginRefused(502, "微信登录暂时不可用，请稍后再试")
    return openid, grant


@bp.post("/wxlogin")
@limiter.limit("20/minute")
def wxlogin():
    """Sign a mini-program user in: their wx.login() code for an expiring signed app token."""
    try:
        openid, grant = _grant(_login_code(request.get_json(silent=True)))
    except LoginRefused as exc:
        return _error(*exc.args)
    user = users.upsert(openid, source="miniapp", unionid=grant.get("unionid"))
    db.session.commit()
    get_redis().set(SESSION_KEY.format(user_id=user.id), str(grant["session_key"]),
                    ex=SESSION_KEY_TTL)
    return jsonify({"token": issue_app_token(user.id), "token_type": "Bearer",
                    "expires_in": TOKEN_MAX_AGE})
