"""Mini-program identity: signed, expiring app tokens naming a WeChat user.

wechat/miniapp.py issues them at sign-in; the API (app/api/auth.py) reads them on every request.
The session_key never leaves the server.
"""
from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

TOKEN_SALT = "anju-miniapp-token"
TOKEN_MAX_AGE = 7 * 24 * 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def issue_app_token(wechat_user_id: int) -> str:
    """An expiring signed token naming the WeChat user."""
    return _serializer().dumps({"uid": wechat_user_id})


def load_app_token(token: str) -> int | None:
    """The WeChat user id in a valid, unexpired token, else None."""
    try:
        data = _serializer().loads(token, max_age=TOKEN_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    uid = data.get("uid") if isinstance(data, dict) else None
    return uid if isinstance(uid, int) else None
