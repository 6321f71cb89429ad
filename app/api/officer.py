"""Officer API (警务通) under /api/v1/officer: sign-in, control tasks, alerts. Scoped exactly
like the console (app/services/scoping.py); every write is idempotent (officer_auth)."""
from __future__ import annotations

from flask import current_app, jsonify, request

from app.api import bp
from app.api.officer_auth import api_officer, bearer_token, json_body, officer_required
from app.extensions import SIGNIN_LIMIT, SIGNIN_SCOPE, db, limiter
from app.redis_conn import get_redis
from app.schemas.officer import OfficerOutSchema, SignInSchema
from app.services import audit, officer_tokens, officers


def _redis_or_none():
    try:
        redis = get_redis()
        redis.ping()
        return redis
    except Exception:  # noqa: BLE001 - Redis down: sign-in works, only without back-off
        current_app.logger.warning("sign-in back-off unavailable (Redis)")
        return None


@bp.post("/officer/sign-in")
@limiter.shared_limit(SIGNIN_LIMIT, scope=SIGNIN_SCOPE, methods=["POST"])
def officer_sign_in():
    """Sign in with username and password: a bearer token valid for 12 hours."""
    data = SignInSchema().load(json_body())
    ip = (request.remote_addr or "")[:45] or None
    redis = _redis_or_none()
    officer, error = officers.authenticate(redis, data["username"].strip(), data["password"], ip)
    if officer is None:
        db.session.commit()  # keep the lock note even though sign-in failed
        from app.errors import error_body

        return jsonify(error_body(401, error)), 401
    if redis is None:
        from flask import abort

        abort(503)
    token = officer_tokens.issue_token(redis, officer)
    audit.record(officer, "officer.login", "officer", officer.id, ip=ip, detail={"channel": "api"})
    db.session.commit()
    return jsonify({"token": token, "token_type": "Bearer",
                    "expires_in": officer_tokens.TOKEN_TTL_SECONDS,
                    "officer": OfficerOutSchema().dump(officer)})


@bp.post("/officer/sign-out")
def officer_sign_out():
    """Sign out: this token is refused from now on (signing out twice changes nothing)."""
    officer = api_officer()
    officer_tokens.revoke_token(get_redis(), bearer_token())
    audit.record(officer, "officer.logout", "officer", officer.id,
                 ip=(request.remote_addr or "")[:45] or None, detail={"channel": "api"})
    db.session.commit()
    return jsonify({"signed_out": True})


@bp.get("/officer/me")
@officer_required
def officer_me(officer):
    """The signed-in officer: name, role and area."""
    return jsonify(OfficerOutSchema().dump(officer))

