"""Jobs: plain importable functions that take ids and plain values, and are idempotent."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import Declaration, utcnow

STALE_AFTER = timedelta(minutes=5)


def validate_declaration(declaration_id: int) -> str | None:
    """Run the automatic checks on one declaration and notify the submitter of the outcome."""
    from app.services.validation import validate
    from workers.queues import enqueue_after_commit

    declaration = db.session.execute(
        select(Declaration).where(Declaration.id == declaration_id).with_for_update()
    ).scalar_one_or_none()
    if declaration is None:
        db.session.rollback()
        return None
    if validate(declaration):
        enqueue_after_commit(notify_declaration_status, declaration.id, declaration.status)
    status = declaration.status
    db.session.commit()
    return status


def sweep_stale_declarations(older_than_seconds: int | None = None) -> int:
    """Re-enqueue declarations left in received/validating (Redis was down, a worker died)."""
    from workers.queues import enqueue_now

    age = timedelta(seconds=older_than_seconds) if older_than_seconds is not None else STALE_AFTER
    ids = list(db.session.execute(
        select(Declaration.id).where(Declaration.status.in_(("received", "validating")),
                                     Declaration.updated_at < utcnow() - age)
        .order_by(Declaration.id).limit(5000)
    ).scalars())
    db.session.rollback()
    for declaration_id in ids:
        enqueue_now(validate_declaration, declaration_id)
    return len(ids)


def notify_declaration_status(declaration_id: int, status: str) -> None:
    """Push the submitter a message about the declaration's new status, once per change."""
    from app.services.notifications import notify_declaration_status as notify

    notify(declaration_id, status)
    db.session.commit()
