"""/healthz: database and Redis reachability and the migration revision."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from app.extensions import db
from app.redis_conn import get_redis

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Report whether the service can reach what it needs; 503 when something is down."""
    result = {"database": {"ok": False}, "redis": {"ok": False}}
    try:
        revision = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        result["database"] = {"ok": True, "revision": revision, "dialect": db.engine.dialect.name}
    except Exception as exc:  # noqa: BLE001 - report, never raise
        db.session.rollback()
        result["database"]["error"] = type(exc).__name__
    try:
        get_redis().ping()
        result["redis"] = {"ok": True, "embedded": not current_app.config.get("REDIS_URL")}
    except Exception as exc:  # noqa: BLE001
        result["redis"]["error"] = type(exc).__name__
    ok = result["database"]["ok"] and result["redis"]["ok"]
    result["status"] = "ok" if ok else "degraded"
    return jsonify(result), (200 if ok else 503)
