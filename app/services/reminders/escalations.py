"""Escalations: the alert an area officer gets for an unreachable landlord, unanswered reminders
or an unconfirmed move-out (through the one alert service), and the console's view of them."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from app.extensions import db
from app.models import Alert, Declaration, Reminder, Residence
from app.services.accounts.scoping import area_clause
from app.services.police.alerts import raise_alert
from app.services.reminders.rules import DEFAULT_RULES

# A closed "unreachable landlord" task is raised again only after this long, if still unreachable.
UNREACHABLE_REALERT = timedelta(days=30)
ESCALATION_KINDS = ("unreachable_landlord", "reminder_unanswered", "move_out_unconfirmed")


def object_of(target_type: str, target_id: int) -> tuple[str, int]:
    """The house a reminder is about (the landlord's house) when there is one, else the target."""
    if target_type == "house":
        return "house", target_id
    model = Declaration if target_type == "declaration" else Residence
    house_id = db.session.execute(select(model.house_id).where(model.id == target_id)).scalar()
    return ("house", house_id) if house_id else (target_type, target_id)


def raise_escalation(kind: str, object_type: str, object_id: int, station_id: int | None,
                     police_area_id: int | None, summary: str, now: datetime,
                     since: datetime | None = None) -> Alert | None:
    """Escalations go through the one alert service (app/services/police/alerts.py)."""
    return raise_alert(kind, object_type, object_id, station_id=station_id,
                       police_area_id=police_area_id, summary=summary, now=now, since=since)


def escalations_for(officer, *, status: str = "open", page: int = 1, per_page: int = 50):
    """The escalation alerts in the officer's area, newest first: (alerts, has_next)."""
    stmt = (select(Alert).where(Alert.kind.in_(ESCALATION_KINDS),
                                area_clause(officer, Alert.station_id, Alert.police_area_id))
            .order_by(Alert.raised_at.desc(), Alert.id.desc()))
    if status in ("open", "closed"):
        stmt = stmt.where(Alert.status == status)
    rows = db.session.execute(
        stmt.offset((page - 1) * per_page).limit(per_page + 1)).scalars().all()
    return rows[:per_page], len(rows) > per_page


def escalation_for(officer, alert_id) -> Alert | None:
    """One escalation alert if it lies in the officer's area, else None."""
    try:
        alert_id = int(alert_id)
    except (TypeError, ValueError):
        return None
    return db.session.execute(select(Alert).where(
        Alert.id == alert_id, Alert.kind.in_(ESCALATION_KINDS),
        area_clause(officer, Alert.station_id, Alert.police_area_id))).scalar_one_or_none()


def house_of_alert(alert: Alert) -> int | None:
    """The house an escalation is about (directly, or through its residence or declaration)."""
    if alert.object_type == "house":
        return alert.object_id
    model = {"residence": Residence, "declaration": Declaration}.get(alert.object_type)
    if model is None:
        return None
    return db.session.execute(select(model.house_id).where(model.id == alert.object_id)).scalar()


def reminder_history(house_id: int, limit: int = 200) -> list[Reminder]:
    """Every reminder about a house (its own, its declarations', its residences'), newest first."""
    declarations = select(Declaration.id).where(Declaration.house_id == house_id)
    residences = select(Residence.id).where(Residence.house_id == house_id)
    return list(db.session.execute(select(Reminder).where(
        Reminder.rule.in_(list(DEFAULT_RULES)),  # lets the (rule, target…) unique index serve
        or_(and_(Reminder.target_type == "house", Reminder.target_id == house_id),
            and_(Reminder.target_type == "declaration", Reminder.target_id.in_(declarations)),
            and_(Reminder.target_type == "residence", Reminder.target_id.in_(residences))))
        .order_by(Reminder.created_at.desc(), Reminder.id.desc()).limit(limit)).scalars())


def close_escalation(alert: Alert, officer, outcome: str, now: datetime) -> Alert:
    """Close an escalation with what the officer did about it."""
    outcome = (outcome or "").strip()
    if not outcome:
        raise ValueError("请填写处理结果")
    alert.status, alert.closed_at = "closed", now
    alert.closed_by_officer_id, alert.outcome = officer.id, outcome[:2000]
    db.session.flush()
    return alert
