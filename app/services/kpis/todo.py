"""An officer's own to-do counts for the console home: open tasks, overdue items, open alerts."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Alert, ConsoleNotice, ControlTask, MissedRegistration, Officer, utcnow
from app.services.accounts import scoping


def todo_counts(officer: Officer, now=None) -> dict:
    """Open control tasks, overdue items (control tasks and 漏登 trace-backs past their
    deadline) and open alerts, all within the officer's area."""
    now = now or utcnow()
    tasks = scoping.area_clause(officer, ControlTask.station_id, ControlTask.police_area_id)
    alerts = scoping.area_clause(officer, Alert.station_id, Alert.police_area_id)

    def count(stmt) -> int:
        return db.session.execute(stmt).scalar() or 0

    open_tasks = count(select(func.count()).select_from(ControlTask)
                       .where(tasks, ControlTask.status == "open"))
    overdue_tasks = count(select(func.count()).select_from(ControlTask)
                          .where(tasks, ControlTask.status == "open", ControlTask.deadline < now))
    # 漏登 trace-backs carry a station only: a plain officer is not counted for them.
    missed = 0
    if officer.role != "officer":
        missed = count(select(func.count()).select_from(MissedRegistration).where(
            scoping.area_clause(officer, MissedRegistration.station_id,
                                MissedRegistration.station_id),
            MissedRegistration.status == "open", MissedRegistration.deadline < now))
    open_alerts = count(select(func.count()).select_from(Alert)
                        .where(alerts, Alert.status == "open"))
    return {"open_tasks": open_tasks, "overdue": overdue_tasks + missed,
            "overdue_tasks": overdue_tasks, "overdue_missed": missed, "open_alerts": open_alerts}


def unread_notices(officer: Officer, limit: int = 10) -> list[ConsoleNotice]:
    """The officer's unread console notices, newest first."""
    return list(db.session.execute(
        select(ConsoleNotice).where(ConsoleNotice.officer_id == officer.id,
                                    ConsoleNotice.read_at.is_(None))
        .order_by(ConsoleNotice.id.desc()).limit(limit)).scalars())


def mark_notices_read(officer: Officer, link: str) -> None:
    """Mark the officer's notices pointing at `link` as read."""
    for notice in db.session.execute(select(ConsoleNotice).where(
            ConsoleNotice.officer_id == officer.id, ConsoleNotice.link == link,
            ConsoleNotice.read_at.is_(None))).scalars():
        notice.read_at = utcnow()
    db.session.flush()
