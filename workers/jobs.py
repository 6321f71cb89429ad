"""Jobs: plain importable functions that take ids and plain values, and are idempotent."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

import app.services.declarations.validation_batch  # noqa: F401  (loaded before the fork)
import app.services.reminders.notifications  # noqa: F401  (loaded before the fork)
from app.extensions import db
from app.identity import check_document
from app.models import Declaration, OutboxJob, utcnow
from app.outbox import default_dedupe_key, jobs
from app.services.declarations import claims
from app.services.declarations.self_declare import escalate_unconfirmed, overdue_self_declarations
from app.services.declarations.validation import validate
from app.services.declarations.validation_batch import validate_many
from app.services.reminders import notifications
from workers.queues import enqueue_after_commit

STALE_AFTER = timedelta(minutes=5)
BATCH_SIZE = 500  # declarations per batch job
BATCH_COMMIT_EVERY = 250  # a crash loses at most one chunk's work, and row locks stay short
SWEEP_LIMIT = 5000


def _notify_after_commit(declaration: Declaration) -> None:
    """Promise the submitter's push for the new status in the outbox, in the same transaction as
    the status itself; declarations nobody can be told skip it."""
    # Officer and import submissions have no WeChat submitter: notify would do nothing, and a
    # job per declaration would cost the bulk path one more fork each.
    if declaration.submitter_wechat_user_id is not None:
        enqueue_after_commit(notify_declaration_status, declaration.id, declaration.status)


def validate_declaration(declaration_id: int) -> str | None:
    """Run the automatic checks on one declaration and notify the submitter of the outcome."""
    declaration = db.session.execute(
        select(Declaration).where(Declaration.id == declaration_id).with_for_update()
    ).scalar_one_or_none()
    if declaration is None:
        db.session.rollback()
        return None
    if validate(declaration):
        _notify_after_commit(declaration)
    status = declaration.status
    db.session.commit()
    return status


def validate_declarations_batch(declaration_ids: list[int]) -> dict[str, int]:
    """Validate many declarations in one job (imports, synced field collection), same outcome.

    Each chunk is locked, prefetched and committed on its own; declarations already validated
    are skipped, so a retried or duplicated batch changes nothing.
    """
    counts: dict[str, int] = {}
    ids = sorted(set(int(i) for i in declaration_ids))
    for start in range(0, len(ids), BATCH_COMMIT_EVERY):
        chunk = ids[start:start + BATCH_COMMIT_EVERY]
        declarations = db.session.execute(
            select(Declaration).where(Declaration.id.in_(chunk)).order_by(Declaration.id)
            .options(selectinload(Declaration.events)).with_for_update()
        ).scalars().all()
        changed = validate_many(declarations)
        for declaration in changed:
            _notify_after_commit(declaration)
            counts[declaration.status] = counts.get(declaration.status, 0) + 1
        if len(changed) < len(declarations):
            counts["unchanged"] = counts.get("unchanged", 0) + len(declarations) - len(changed)
        db.session.commit()
    return counts


def enqueue_validation_batches(declaration_ids: list[int], size: int = BATCH_SIZE,
                               queue: str = "low") -> int:
    """Queue batch validation jobs of `size` declarations each, after the caller's commit.

    Ids are grouped by station, and free-text ones by the community they name, so one batch
    loads each scope of the address matcher once; returns the number of batch jobs queued.
    """
    ids = sorted(set(int(i) for i in declaration_ids))
    if not ids:
        return 0
    scope: dict[int, tuple] = {}
    for start in range(0, len(ids), 5000):
        rows = db.session.execute(
            select(Declaration.id, Declaration.station_id, Declaration.address_id)
            .where(Declaration.id.in_(ids[start:start + 5000]))).tuples().all()
        free_text = [i for i, _station, address_id in rows if address_id is None]
        communities = {}
        if free_text:  # only these need the matcher: group them by the community they name
            communities = {d.id: (d.payload or {}).get("community_id") or 0 for d in
                           db.session.execute(select(Declaration).where(
                               Declaration.id.in_(free_text))).scalars()}
        for declaration_id, station_id, _address_id in rows:
            scope[declaration_id] = (station_id or 0, communities.get(declaration_id, -1))
    ordered = sorted(ids, key=lambda i: (*scope.get(i, (0, -1)), i))
    batches = [ordered[start:start + size] for start in range(0, len(ordered), size)]
    for batch in batches:
        enqueue_after_commit(validate_declarations_batch, batch, queue=queue)
    return len(batches)


def warm_up() -> None:
    """Load what every job needs once, in the worker, before it forks a work-horse per job.

    The services every job uses are imported at the top of this module (so they load with it);
    this loads python-stdnum's region table, which otherwise each work-horse would read again,
    at more cost than validating a declaration.
    """
    check_document("resident_id", "11010519491231002X")


def sweep_stale_declarations(older_than_seconds: int | None = None) -> int:
    """Promise validation again for declarations left in received/validating whose outbox row
    is missing or done (declarations from before the outbox); returns how many were promised.

    Not periodic: the outbox relay (workers/outbox.py) delivers every promise made since.
    """
    age = timedelta(seconds=older_than_seconds) if older_than_seconds is not None else STALE_AFTER
    ids = list(db.session.execute(
        select(Declaration.id).where(Declaration.status.in_(("received", "validating")),
                                     Declaration.updated_at < utcnow() - age)
        .order_by(Declaration.id).limit(SWEEP_LIMIT)
    ).scalars())
    name = "workers.jobs.validate_declaration"
    keys = {default_dedupe_key(name, [i]): i for i in ids}
    rows = {row.dedupe_key: row for start in range(0, len(ids), 1000) for row in
            db.session.execute(select(OutboxJob).where(OutboxJob.dedupe_key.in_(
                list(keys)[start:start + 1000]))).scalars()}
    promised = 0
    for key, declaration_id in keys.items():
        row = rows.get(key)
        if row is not None and row.done_at is None:
            continue  # still promised: the relay delivers it
        if row is not None:
            db.session.delete(row)  # done without a verdict: promise it afresh
            db.session.flush()
        jobs.after_commit(name, declaration_id)
        promised += 1
    db.session.commit()
    return promised


def notify_declaration_status(declaration_id: int, status: str) -> None:
    """Push the submitter a message about the declaration's new status, once per change."""
    notifications.notify_declaration_status(declaration_id, status)
    db.session.commit()


def notify_claim(claim_id: int, event: str) -> None:
    """Push the holder and the claimant what happened to an ownership claim, once per event."""
    claims.notify(claim_id, event)
    db.session.commit()


def notify_landlord_of_self_declaration(declaration_id: int) -> int:
    """Ask the landlord (owner and agent) to confirm a tenant's self-declaration, once each."""
    sent = len(notifications.notify_landlord_of_self_declaration(declaration_id))
    db.session.commit()
    return sent


def escalate_unconfirmed_self_declarations(now_iso: str | None = None) -> int:
    """Put self-declarations the landlord left unanswered past the deadline in the officer's
    review queue; each only once, so running it again changes nothing."""
    now = datetime.fromisoformat(now_iso) if now_iso else utcnow()
    days = int(current_app.config.get("SELF_DECLARATION_CONFIRM_DAYS", 3))
    escalated = 0
    for declaration_id in overdue_self_declarations(now - timedelta(days=days)):
        declaration = db.session.execute(
            select(Declaration).where(Declaration.id == declaration_id).with_for_update()
        ).scalar_one_or_none()
        if declaration is not None and escalate_unconfirmed(declaration):
            escalated += 1
        db.session.commit()
    return escalated
