"""Bearer tokens of the officer API (警务通): short-lived, stored hashed in Redis, revocable.

A token names the officer's session stamp (app/services/officers.session_stamp): console
sign-out, password change or reset raise or change it, and every token issued before dies.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from app.extensions import db
from app.models import Officer
from app.services.accounts.officers import session_stamp

TOKEN_TTL_SECONDS = 12 * 3600
_KEY = "anju:officer:token:{digest}"


def _key(token: str) -> str:
    return _KEY.format(digest=hashlib.sha256(token.encode()).hexdigest())


def issue_token(redis, officer: Officer) -> str:
    """A fresh random token for the officer; only its hash is stored, for TOKEN_TTL_SECONDS."""
    token = secrets.token_urlsafe(32)
    redis.set(_key(token), session_stamp(officer), ex=TOKEN_TTL_SECONDS)
    return token


def officer_for_token(redis, token: str) -> Officer | None:
    """The active officer a live token belongs to; None when unknown, expired or outdated."""
    if not token or len(token) > 128:
        return None
    stamp = redis.get(_key(token))
    if stamp is None:
        return None
    stamp = stamp.decode() if isinstance(stamp, bytes) else str(stamp)
    officer_id = stamp.partition(".")[0]
    officer = db.session.get(Officer, int(officer_id)) if officer_id.isdigit() else None
    if officer is None or not officer.is_active:
        return None
    if not hmac.compare_digest(session_stamp(officer), stamp):
        redis.delete(_key(token))
        return None
    return officer


def revoke_token(redis, token: str) -> None:
    """Forget the token: it is refused from now on."""
    redis.delete(_key(token))
