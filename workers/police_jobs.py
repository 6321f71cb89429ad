"""Police field-work jobs: the periodic overdue sweep of control tasks (DESIGN §5)."""
from __future__ import annotations

from datetime import datetime

from flask import current_app

from app.extensions import db
from app.models import utcnow
from app.services.police.cases_import import run_import
from app.services.police.tasks import sweep_overdue


def sweep_control_tasks(now_iso: str | None = None) -> int:
    """Raise one alert per open control task with an overdue item (idempotent: once per task)."""
    raised = sweep_overdue(datetime.fromisoformat(now_iso) if now_iso else utcnow())
    db.session.commit()
    return raised


def run_case_import(import_id: int) -> str | None:
    """Import a large case-person file (案前比对) in committed chunks; the console page polls
    the progress. Idempotent: a finished import is left alone, a crashed one resumes."""
    record = run_import(import_id, config=current_app.config, commit=db.session.commit)
    db.session.commit()
    return record.status if record is not None else None
