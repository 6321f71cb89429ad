"""/healthz (liveness: the process answers) and /readyz (readiness: what it needs is there)."""
from __future__ import annotations

import os

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy import create_engine, text

from app.extensions import db
from app.redis_conn import get_redis

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness: answers without touching the database or Redis (restart only a hung process)."""
    return jsonify({"status": "ok"})


def _scripts(app):
    """The Alembic script directory shipped with this code (read once)."""
    scripts = app.extensions.get("anju_alembic_scripts")
    if scripts is None:
        config = Config()
        config.set_main_option("script_location",
                               os.path.abspath(app.extensions["migrate"].directory))
        scripts = ScriptDirectory.from_config(config)
        app.extensions["anju_alembic_scripts"] = scripts
    return scripts


def code_heads(app) -> set[str]:
    """The Alembic head revision(s) of the migrations shipped with this code."""
    return set(_scripts(app).get_heads())


def _known(app, revision: str) -> bool:
    try:
        return _scripts(app).get_revision(revision) is not None
    except Exception:  # noqa: BLE001 - alembic raises for ids it does not know
        return False


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
    if found != expected and found and not any(_known(app, rev) for rev in found):
        # A revision this code has never heard of: a newer release has migrated (the upgrade
        # runs migrations first, then restarts web hosts one by one). This process still serves.
        result.update(ok=True, note="database is at a newer revision than this code")
    elif found != expected:
        result["error"] = "database is behind this code's migration head: run `flask db upgrade`"
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
    """Readiness: database primary at the code's migration head (or a newer one) and Redis, else
    503; the replica, when set, is reported but never makes it 503 (heavy reads fall back to the
    primary, app/db_read.py, so a replica outage must not take every web host out)."""
    app = current_app._get_current_object()
    checks = {"database": _check_primary(app), "redis": _check_redis(app)}
    ok = all(check["ok"] for check in checks.values())
    body = {"status": "ok" if ok else "unavailable", **checks}
    replica = _replica_engine(app)
    if replica is not None:
        body["replica"] = {**_check_replica(replica), "informational": True}
        if not body["replica"]["ok"]:
            body["replica"]["note"] = "heavy reads fall back to the primary"
    return jsonify(body), (200 if ok else 503)
