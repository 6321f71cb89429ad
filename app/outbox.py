"""The port through which services promise work after their commit: by job name, into the outbox.

Services call `jobs.after_commit("workers.jobs.validate_declaration", declaration.id)`; that adds
an OutboxJob row to the caller's transaction (so a rollback promises nothing and a commit can
never lose the promise). Delivering it is the relay's business (workers/outbox.py): right after
the commit, and again from the periodic job for whatever the first attempt did not hand over.
"""
from __future__ import annotations

import hashlib
import json
from typing import Protocol

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import OutboxJob

# session.info key: the rows this transaction promised, for the after-commit relay.
PROMISED = "anju_outbox_promised"


class Jobs(Protocol):
    def after_commit(self, name: str, *args, queue: str = "default",
                     dedupe_key: str | None = None) -> OutboxJob: ...

    def runs_later(self) -> bool: ...


def default_dedupe_key(name: str, args) -> str:
    """The job and its JSON arguments; hashed when that would not fit the column."""
    text = f"{name}:{json.dumps(list(args), sort_keys=True, separators=(',', ':'))}"
    if len(text) <= 191:
        return text
    return f"{name[:100]}:{hashlib.sha256(text.encode()).hexdigest()}"


class OutboxJobs:
    """Jobs recorded as OutboxJob rows in the current database session."""

    def after_commit(self, name: str, *args, queue: str = "default",
                     dedupe_key: str | None = None) -> OutboxJob:
        """Promise job `name(*args)` once this transaction commits; the same promise is kept once."""
        args = json.loads(json.dumps(list(args)))  # JSON only, as the queue carries it
        key = dedupe_key or default_dedupe_key(name, args)
        session = db.session
        row = session.execute(select(OutboxJob).where(OutboxJob.dedupe_key == key)).scalar()
        if row is not None:
            return row
        row = OutboxJob(job=name, args=args, queue=queue, dedupe_key=key, attempts=0)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # a concurrent transaction promised the same: theirs counts
            return session.execute(
                select(OutboxJob).where(OutboxJob.dedupe_key == key)).scalar_one()
        session.info.setdefault(PROMISED, []).append((row.id, name, args, queue))
        return row


    def runs_later(self) -> bool:
        """Whether workers and the periodic schedule run (REDIS_URL set): work may be put off.
        Without them (the embedded demo) promised jobs run inline and nothing runs later."""
        return bool(current_app.config.get("REDIS_URL"))


jobs: Jobs = OutboxJobs()
