"""Retention jobs (app/services/people/retention.py), run daily by the scheduler; idempotent."""
from __future__ import annotations

from datetime import datetime

from flask import current_app

from app.extensions import db
from app.models import utcnow
from app.services.accounts import audit
from app.services.people import retention


def _now(now_iso: str | None) -> datetime:
    return datetime.fromisoformat(now_iso) if now_iso else utcnow()


def purge_audit_logs(now_iso: str | None = None) -> int:
    """Delete audit rows older than AUDIT_RETENTION_DAYS (never fewer than 183), chunk by chunk."""
    days = int(current_app.config.get("AUDIT_RETENTION_DAYS")
               or retention.DEFAULT_AUDIT_RETENTION_DAYS)
    now, total = _now(now_iso), 0
    while True:
        deleted = retention.purge_audit_chunk(now, days)
        db.session.commit()
        total += deleted
        if not deleted:
            break
    if total:  # the purge itself is on the record
        audit.record("retention", "audit.purge", "audit_log", None,
                     detail={"deleted": total, "older_than_days": days})
        db.session.commit()
    return total


def anonymise_ended_stays(now_iso: str | None = None) -> int:
    """Anonymise people whose stays all ended over ENDED_RESIDENCE_RETENTION_DAYS ago."""
    days = int(current_app.config.get("ENDED_RESIDENCE_RETENTION_DAYS")
               or retention.DEFAULT_ENDED_RESIDENCE_RETENTION_DAYS)
    now, total = _now(now_iso), 0
    while True:
        done = retention.anonymise_chunk(now, days)
        db.session.commit()
        total += done
        if not done:
            break
    if total:
        audit.record("retention", "person.anonymise", "person", None,
                     detail={"people": total, "ended_before_days": days})
        db.session.commit()
    return total
