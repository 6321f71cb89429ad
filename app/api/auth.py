"""The API's caller (the mini-program user behind an app token: app/app_tokens.py) and
Idempotency-Key handling."""
from __future__ import annotations

import functools
import re

from flask import abort, g, request
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from app.app_tokens import load_app_token
from app.extensions import SUBMISSION_LIMIT, db  # noqa: F401  (re-exported for the API views)
from app.models import WeChatUser
from app.schemas.claims import ClaimOutSchema
from app.schemas.declarations import DeclarationOutSchema
from app.services.declarations import claims
from app.services.declarations.declare import Submitter, find_by_idempotency_key

_KEY_RE = re.compile(r"^[A-Za-z0-9_\-:.]{1,64}$")


def _bearer_uid() -> int | None:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    return load_app_token(token) if token else None


def api_user() -> WeChatUser:
    """The signed-in mini-program user, or a 401 JSON error."""
    uid = _bearer_uid()
    user = db.session.get(WeChatUser, uid) if uid else None
    if user is None:
        abort(401)
    g.api_user_id = user.id  # for the request's log line (app/logs.py)
    return user


def submitter_key() -> str:
    """Rate-limit key: the WeChat user when the token is valid, else the client address."""
    uid = _bearer_uid()
    return f"wx:{uid}" if uid else f"ip:{request.remote_addr}"


def ip() -> str | None:
    return request.remote_addr


def idempotent(view):
    """Pass the Idempotency-Key header to the view; a concurrent duplicate returns the first result."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is not None and not _KEY_RE.match(key):
            raise ValidationError({"Idempotency-Key": ["幂等键应为1到64位字母、数字或-_:."]})
        try:
            return view(key, *args, **kwargs)
        except IntegrityError:
            # Two requests with the same key raced past the lookup: the loser answers with the
            # winner's declaration.
            db.session.rollback()
            if key is None:
                raise

            uid = api_user().id
            existing = find_by_idempotency_key(Submitter("landlord", uid), key)
            if existing is not None:
                return DeclarationOutSchema().dump(existing), 201
            claim = claims.find_by_idempotency_key(uid, key)
            if claim is None:
                raise
            return ClaimOutSchema().dump(claim), 202

    return wrapper
