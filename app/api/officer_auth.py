"""Reusable pieces of the officer API (警务通): bearer-token sign-in, the current officer, and
idempotent writes. Field-work endpoints (control tasks, alerts, spot checks, field collection)
build on these: `officer_required` for reads, `officer_write` for every write."""
from __future__ import annotations

import functools
import re

from flask import abort, current_app, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Officer
from app.redis_conn import get_redis
from app.services.declarations import idempotency
from app.services.accounts import officer_tokens

_KEY_RE = re.compile(r"^[A-Za-z0-9_\-:.]{1,64}$")


def bearer_token() -> str:
    """The token in the Authorization header ('' when there is none)."""
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def api_officer() -> Officer:
    """The officer behind this request's bearer token, or a 401 JSON error."""
    token = bearer_token()
    try:
        officer = officer_tokens.officer_for_token(get_redis(), token) if token else None
    except Exception:  # noqa: BLE001 - Redis down: no token can be checked
        current_app.logger.warning("officer token store unavailable (Redis)")
        abort(503)
    if officer is None:
        abort(401, description="登录已失效，请重新登录")
    return officer


def officer_required(view):
    """A read of the officer API: the view receives the signed-in officer first."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        return view(api_officer(), *args, **kwargs)

    return wrapper


def officer_write(view):
    """A write of the officer API: needs an Idempotency-Key; the view receives the officer and
    returns (body, status) without committing. The answer is stored with the write in one
    commit, and the same key and request from the same officer gets the same answer again."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        officer = api_officer()
        key = request.headers.get(idempotency.KEY_FIELD, "")
        if not _KEY_RE.match(key):
            raise ValidationError({idempotency.KEY_FIELD: [
                "每个提交都须带 Idempotency-Key 请求头（1到64位字母、数字或-_:.）"]})
        body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        print_ = idempotency.fingerprint(request.method, request.path, body)
        stored = idempotency.stored_answer(officer.id, key, print_)
        if stored is not None:
            return jsonify(stored.body), stored.status_code
        answer, status = view(officer, *args, **kwargs)
        officer_id = officer.id
        idempotency.store_answer(officer_id, key, print_, status, answer)
        try:
            db.session.commit()
        except IntegrityError:
            # The same key raced past the lookup: the loser answers with the winner's answer.
            db.session.rollback()
            stored = idempotency.stored_answer(officer_id, key, print_)
            if stored is None:
                raise
            return jsonify(stored.body), stored.status_code
        return jsonify(answer), status

    return wrapper


def json_body() -> dict:
    """The request's JSON object ({} when absent or not an object)."""
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}
