"""/healthz (liveness: the process answers) and /readyz (readiness: what it needs is there)."""
from __future__ import annotations

import os

from flask import Blueprint, current_app, jsonify
from sqlalchemy import create_engine, text

from app.extensions import db
from app.redis_conn import get_redis

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness: answers without touching the database or Redis (restart only a hung process)."""
    return jsonify({"status": "ok"})


def code_heads(app) -> set[str]:
    """The Alembic head revision(s) of the migrations shipped with this code (read once)."""
    heads = app.extensions.get("anju_code_heads")
    if heads is None:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        directory = app.extensions["migrate"].directory
        config = Config()
        config.set_main_option("script_location", os.path.abspath(directory))
        heads = set(ScriptDirectory.from_config(config).get_heads())
        app.extensions["anju_code_heads"] = heads
    return heads


def _replica_engine(app):
    """A small engine on DATABASE_REPLICA_URL, when one is configured (built once)."""
    url = app.config.get("DATABASE_REPLICA_URL")
    if not url:
        return None
    engine = app.extensions.get("anju_readyz_replica")
    if engine is None:
        engine = create_engine(url, pool_pre_ping=True, pool_size=1, max_overflow=1,
                               pool_recycle=3600)
        app.extensions["anju_readyz_replica"] = engine
    return engine


def _check_primary(app) -> dict:
    try:
        found = {row[0] for row in db.session.execute(text("SELECT version_num FROM alembic_version"))}
        db.session.rollback()
    except Exception as exc:  # noqa: BLE001 - report, never raise
        db.session.rollback()
        return {"ok": False, "error": type(exc).__name__}
    expected = code_heads(app)
    result = {"ok": found == expected, "revision": sorted(found), "code_head": sorted(expected),
              "dialect": db.engine.dialect.name}
    if found != expected:
        result["error"] = "migration revision differs from the code's head: run `flask db upgrade`"
    return result


def _check_replica(engine) -> dict:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}


def _check_redis(app) -> dict:
    try:
        get_redis().ping()
        return {"ok": True, "embedded": not app.config.get("REDIS_URL")}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}


@bp.get("/readyz")
def readyz():
    """Readiness: database primary at the code's migration head, replica if set, Redis; else 503."""
    app = current_app._get_current_object()
    checks = {"database": _check_primary(app), "redis": _check_redis(app)}
    replica = _replica_engine(app)
    if replica is not None:
        checks["database_replica"] = _check_replica(replica)
    ok = all(check["ok"] for check in checks.values())
    return jsonify({"status": "ok" if ok else "unavailable", **checks}), (200 if ok else 503)
