"""Alerts to handle (预警处置): one list per area, each with an owner, a deadline, a closing
outcome and note. Every alert is raised through `raise_alert`, the one place that decides
whether an alert of this kind is already open for the object."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Alert, House, Officer, utcnow
from app.services.accounts import audit
from app.services.accounts.scoping import scope
from app.services.errors import RuleError, StateConflict

ALERT_DUE_DAYS = 3
KIND_LABELS = {
    "watch_hit": "关注人员入住/就业",
    "control_overdue": "管控任务逾期",
    "missed_registration": "漏登",
    "unreachable_landlord": "房东无法联系",
    "reminder_unanswered": "提醒多次未处理",
    "move_out_unconfirmed": "退租未确认",
}
OUTCOMES = {
    "handled": "已处置",
    "verified_on_site": "已上门核实",
    "false_alarm": "核实无异常",
    "transferred": "已移交",
}
# Who owns a new alert of each kind: the area officer, or (overdue control items) the station
# admin who must chase the officer.
STATION_ADMIN_KINDS = ("control_overdue",)


def _owner(kind: str, station_id: int, police_area_id: int | None) -> int | None:
    stmt = select(Officer.id).where(Officer.is_active.is_(True)).order_by(Officer.id).limit(1)
    if kind in STATION_ADMIN_KINDS or police_area_id is None:
        stmt = stmt.where(Officer.role == "station_admin", Officer.station_id == station_id)
    else:
        stmt = stmt.where(Officer.role == "officer", Officer.police_area_id == police_area_id)
    return db.session.execute(stmt).scalar()


def already_raised(kind: str, object_type: str, object_id: int,
                   since: datetime | None = None) -> bool:
    """Whether an alert of this kind and object is open, or was raised since `since`."""
    seen = Alert.status == "open"
    if since is not None:
        seen = or_(seen, Alert.raised_at >= since)
    return db.session.execute(select(Alert.id).where(
        Alert.kind == kind, Alert.object_type == object_type, Alert.object_id == object_id,
        seen)).first() is not None


def raise_alert(kind: str, object_type: str, object_id: int, *, station_id: int | None,
                summary: str, police_area_id: int | None = None, now: datetime | None = None,
                since: datetime | None = None, due_days: int = ALERT_DUE_DAYS) -> Alert | None:
    """Raise an alert unless one of this kind and object is open, or was raised since `since`
    (an officer who closed it is not handed the same thing again within the same episode).

    The owner is the area officer (the station admin for overdue control items); the deadline
    is `due_days` after raising. None when nothing was raised. The database's unique open key
    keeps it to one open alert when two sweeps race.
    """
    if station_id is None:
        return None
    now = now or utcnow()
    if already_raised(kind, object_type, object_id, since):
        return None
    if police_area_id is None and object_type == "house":
        police_area_id = db.session.execute(
            select(House.police_area_id).where(House.id == object_id)).scalar()
    alert = Alert(kind=kind, station_id=station_id, police_area_id=police_area_id,
                  object_type=object_type, object_id=object_id, summary=summary[:255],
                  raised_at=now, due_at=now + timedelta(days=due_days),
                  owner_officer_id=_owner(kind, station_id, police_area_id),
                  open_key=Alert.open_key_for(kind, object_type, object_id))
    try:
        # The unique open_key decides between two sweeps that both found no open alert.
        with db.session.begin_nested():
            db.session.add(alert)
    except IntegrityError:
        return None
    return alert


def alerts_for(officer: Officer, *, status: str = "open", kind: str | None = None,
               page: int = 1, per_page: int = 50) -> tuple[list[Alert], bool]:
    """The alerts in the officer's area (scoping.py), oldest deadline first: (alerts, has_next)."""
    stmt = scope(Alert, select(Alert), officer)
    if status in ("open", "closed"):
        stmt = stmt.where(Alert.status == status)
    if kind in KIND_LABELS:
        stmt = stmt.where(Alert.kind == kind)
    stmt = stmt.order_by(Alert.status.desc(), Alert.due_at, Alert.id)
    rows = db.session.execute(
        stmt.offset((max(page, 1) - 1) * per_page).limit(per_page + 1)).scalars().all()
    return rows[:per_page], len(rows) > per_page


def close_alert(alert: Alert, officer: Officer, outcome: str, note: str | None,
                now: datetime | None = None) -> Alert:
    """Close an open alert with an outcome (OUTCOMES) and what was done."""
    if alert.status != "open":
        raise AlertClosed("该预警已处置")
    if outcome not in OUTCOMES:
        raise RuleError("outcome", "请选择处置结果")
    note = (note or "").strip()
    if not note:
        raise RuleError("note", "请填写处置情况")
    if len(note) > 2000:
        raise RuleError("note", "处置情况不超过 2000 字")
    alert.status, alert.closed_at = "closed", now or utcnow()
    alert.closed_by_officer_id = officer.id
    alert.outcome, alert.close_note = OUTCOMES[outcome], note
    db.session.flush()
    return alert


class AlertClosed(StateConflict):
    """The alert was already closed."""


@dataclass
class HandlingRate:
    raised: int
    closed: int

    @property
    def rate(self) -> float | None:
        """closed ÷ raised; None ("no data") when nothing was raised, never 0 or 100 %."""
        return self.closed / self.raised if self.raised else None


def handling_rate(start: datetime, end: datetime, *, station_id: int | None = None,
                  police_area_id: int | None = None,
                  kinds: tuple[str, ...] = ("watch_hit", "missed_registration",
                                            "unreachable_landlord")) -> HandlingRate:
    """预警处置率 (DESIGN §6) for alerts raised in [start, end) in an area: of those, how many
    are closed now."""
    stmt = select(func.count(), func.count(Alert.closed_at)).where(
        Alert.raised_at >= start, Alert.raised_at < end, Alert.kind.in_(kinds))
    if police_area_id is not None:
        stmt = stmt.where(Alert.police_area_id == police_area_id)
    if station_id is not None:
        stmt = stmt.where(Alert.station_id == station_id)
    raised, closed = db.session.execute(stmt).one()
    return HandlingRate(raised=raised, closed=closed)


def close_alert_audited(alert: Alert, officer: Officer, outcome: str, note: str, *,
                        ip: str | None, via: str | None = None) -> Alert:
    """close_alert() with its audit row (the API's names its channel; the console's never did)."""
    close_alert(alert, officer, outcome, note)
    detail = {"kind": alert.kind, "outcome": outcome, **({"channel": via} if via else {})}
    audit.record(officer, "alert.close", "alert", alert.id, reason=note[:200], ip=ip,
                 detail=detail)
    return alert
