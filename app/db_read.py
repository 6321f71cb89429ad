"""Heavy reads on the read replica (DATABASE_REPLICA_URL), explicitly, with the primary as fallback.

Only views that list or export (console search, the review queue, CSV exports, dashboards) ask
for `read_session()`; everything else, and every write, uses `db.session` on the primary. A
replica lags: a client that has just written (a console POST) reads from the primary for
REPLICA_FRESH_SECONDS so the page after its own write shows it. When the replica cannot be
reached the read goes to the primary, the outage is logged once, and the replica is tried again
after REPLICA_RETRY_SECONDS.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from flask import current_app, has_request_context, session
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.extensions import db

_ENGINE = "anju_replica_engine"
_DOWN_UNTIL = "anju_replica_down_until"
_WROTE_AT = "anju_wrote_at"


def replica_engine():
    """The app's replica engine, built on first use; None when no replica is configured."""
    app = current_app
    url = app.config.get("DATABASE_REPLICA_URL")
    if not url:
        return None
    engine = app.extensions.get(_ENGINE)
    if engine is None:
        connect_args = {}
        if url.startswith(("mysql", "mariadb")):
            connect_args = {"connect_timeout": int(app.config.get("REPLICA_CONNECT_TIMEOUT", 2))}
        engine = create_engine(url, pool_pre_ping=True, pool_recycle=3600,
                               connect_args=connect_args)
        app.extensions[_ENGINE] = engine
    return engine


def mark_written() -> None:
    """Remember that this client just wrote, so its next pages read from the primary."""
    if has_request_context():
        session[_WROTE_AT] = int(time.time())


def _recently_wrote() -> bool:
    if not has_request_context():
        return False
    wrote_at = session.get(_WROTE_AT)
    window = int(current_app.config.get("REPLICA_FRESH_SECONDS", 10))
    return isinstance(wrote_at, int) and time.time() - wrote_at < window


@contextmanager
def read_session() -> Iterator[Session]:
    """A session for a heavy read: on the replica when configured and reachable, else the primary.

    The session is read-only by convention and closed when the block ends; objects it loaded are
    used (rendered, exported) inside the block.
    """
    engine = replica_engine()
    app = current_app
    if engine is None or _recently_wrote() or app.extensions.get(_DOWN_UNTIL, 0) > time.time():
        yield db.session
        return
    try:
        connection = engine.connect()
    except DBAPIError as exc:
        if not app.extensions.get(_DOWN_UNTIL):
            app.logger.warning("read replica unreachable (%s); heavy reads use the primary",
                               type(exc.orig or exc).__name__)
        retry = float(app.config.get("REPLICA_RETRY_SECONDS", 30))
        app.extensions[_DOWN_UNTIL] = time.time() + retry
        connection = None
    if connection is None:
        yield db.session
        return
    if app.extensions.pop(_DOWN_UNTIL, None):
        app.logger.warning("read replica reachable again; heavy reads use it")
    replica = Session(bind=connection, autoflush=False, expire_on_commit=False)
    replica.info["anju_replica"] = True
    try:
        yield replica
    finally:
        replica.close()
        connection.close()


def is_replica(s: Session) -> bool:
    """Whether a session from read_session() is on the replica (for logs, tests and headers)."""
    return bool(s.info.get("anju_replica"))
