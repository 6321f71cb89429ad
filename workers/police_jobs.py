"""Police field-work jobs: the periodic overdue sweep of control tasks (DESIGN §5)."""
from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.models import utcnow
from app.services.police.tasks import sweep_overdue


def sweep_control_tasks(now_iso: str | None = None) -> int:
    """Raise one alert per open control task with an overdue item (idempotent: once per task)."""
    raised = sweep_overdue(datetime.fromisoformat(now_iso) if now_iso else utcnow())
    db.session.commit()
    return raised
