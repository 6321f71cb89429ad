"""Which reminders are due: each rule evaluated over its targets (houses, declarations,
residences), streamed in id-ordered chunks so memory stays flat in the number of houses."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.models import Declaration, House, Residence, WeChatUser
from app.services.declarations.declare import add_months
from app.services.reminders.clock import local
from app.services.reminders.rules import Rule, Settings


CHUNK = 2000


@dataclass(frozen=True)
class Due:
    """A rule that holds for a target now, with the period it is reminded for."""

    rule: str
    target_type: str
    target_id: int
    episode: str  # when the obligation became overdue; changes when it is settled and recurs
    period_key: str
    recipient_wechat_user_id: int | None
    station_id: int | None
    police_area_id: int | None
    link: str
    periods_before: int = 0  # earlier periods of this episode (for the escalation count)


def _as_datetime(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time(0, 0))


def _periodic(rule: Rule, since: datetime, now: datetime) -> tuple[str, str, int] | None:
    """(episode, period key, index) when `since` + grace has passed, else None."""
    overdue = since + timedelta(days=rule.after_days)
    if overdue > now:
        return None
    episode = overdue.strftime("%Y%m%d")
    if not rule.repeat_days:
        return episode, episode, 0
    n = (now - overdue).days // rule.repeat_days
    return episode, f"{episode}-{n}", n


_HOUSE_COLUMNS = (House.id, House.created_at, House.is_vacant, House.last_confirmed_at,
                  House.owner_wechat_user_id, House.station_id, House.police_area_id)


def _house_rows(*, after: int | None = None, ids=None, limit: int = CHUNK):
    stmt = select(*_HOUSE_COLUMNS).where(House.is_rental.is_(True), House.status == "active")
    if ids is not None:
        stmt = stmt.where(House.id.in_(ids))
    else:
        stmt = stmt.where(House.id > after).order_by(House.id).limit(limit)
    return db.session.execute(stmt).all()


def _house_dues(rows, now: datetime, rules: dict[str, Rule]) -> list[Due]:
    undeclared, confirm = rules["house_undeclared"], rules["occupancy_unconfirmed"]
    if not rows or not (undeclared.enabled or confirm.enabled):
        return []
    ids = [r.id for r in rows]
    # One grouped query per chunk: live tenants, when the last one left, the latest declared.
    stats = {hid: (live, ended, declared) for hid, live, ended, declared in db.session.execute(
        select(Residence.house_id, func.count(Residence.active_slot), func.max(Residence.end_date),
               func.max(Residence.created_at))
        .where(Residence.house_id.in_(ids)).group_by(Residence.house_id)).all()}
    dues = []
    for row in rows:
        live, ended, declared = stats.get(row.id, (0, None, None))
        common = dict(target_type="house", target_id=row.id,
                      recipient_wechat_user_id=row.owner_wechat_user_id,
                      station_id=row.station_id, police_area_id=row.police_area_id)
        if not live and not row.is_vacant:
            if not undeclared.enabled:
                continue
            since = max(row.created_at, _as_datetime(ended)) if ended else row.created_at
            hit = _periodic(undeclared, since, now)
            if hit:
                dues.append(Due(undeclared.name, episode=hit[0], period_key=hit[1],
                                periods_before=hit[2], link=f"/h5/houses/{row.id}", **common))
        elif confirm.enabled:
            since = max(d for d in (row.last_confirmed_at or row.created_at, declared) if d)
            hit = _periodic(confirm, since, now)
            if hit:
                dues.append(Due(confirm.name, episode=hit[0], period_key=hit[1],
                                periods_before=hit[2], link=f"/h5/houses/{row.id}/confirm",
                                **common))
    return dues


_CORRECTABLE = ("flagged", "rejected")


def _declaration_rows(*, after: int | None = None, ids=None, limit: int = CHUNK):
    corrected = select(Declaration.corrects_id).where(Declaration.corrects_id.is_not(None))
    stmt = select(Declaration.id, Declaration.decided_at, Declaration.updated_at,
                  Declaration.submitter_wechat_user_id, Declaration.station_id,
                  Declaration.police_area_id).where(
        Declaration.status.in_(_CORRECTABLE), Declaration.id.not_in(corrected))
    if ids is not None:
        stmt = stmt.where(Declaration.id.in_(ids))
    else:
        stmt = stmt.where(Declaration.id > after).order_by(Declaration.id).limit(limit)
    return db.session.execute(stmt).all()


def _declaration_dues(rows, now: datetime, rules: dict[str, Rule]) -> list[Due]:
    rule = rules["declaration_correction"]
    if not rule.enabled:
        return []
    dues = []
    for row in rows:
        hit = _periodic(rule, row.decided_at or row.updated_at, now)
        if hit:
            dues.append(Due(rule.name, "declaration", row.id, hit[0], hit[1],
                            row.submitter_wechat_user_id, row.station_id, row.police_area_id,
                            f"/h5/declarations/{row.id}", hit[2]))
    return dues


def _residence_rows(*, after: int | None = None, ids=None, limit: int = CHUNK):
    stmt = (select(Residence.id, Residence.person_id, Residence.start_date, House.station_id,
                   House.police_area_id)
            .join(House, House.id == Residence.house_id).where(Residence.status == "active"))
    if ids is not None:
        stmt = stmt.where(Residence.id.in_(ids))
    else:
        stmt = stmt.where(Residence.id > after).order_by(Residence.id).limit(limit)
    return db.session.execute(stmt).all()


def _residence_dues(rows, now: datetime, rules: dict[str, Rule], s: Settings) -> list[Due]:
    eligible, endorse = rules["residence_permit"], rules["permit_endorsement"]
    if not rows or not (eligible.enabled or endorse.enabled):
        return []
    today = local(now, s).date()
    candidates = []
    for row in rows:
        first = add_months(row.start_date, eligible.months)
        if eligible.enabled and first <= today < first + timedelta(days=eligible.window_days):
            candidates.append((eligible.name, row, "eligible"))
        if endorse.enabled:
            years = max(1, today.year - first.year)
            anniversary = add_months(first, 12 * years)
            if anniversary <= today:
                anniversary = add_months(first, 12 * (years + 1))
            if add_months(anniversary, -1) <= today:
                candidates.append((endorse.name, row, f"y{anniversary.isoformat()}"))
    if not candidates:
        return []
    # The tenant's own WeChat account; a tenant without one is not reminded (nothing to escalate).
    persons = {row.person_id for _, row, _ in candidates}
    users = dict(db.session.execute(
        select(WeChatUser.person_id, func.min(WeChatUser.id))
        .where(WeChatUser.person_id.in_(persons)).group_by(WeChatUser.person_id)).all())
    return [Due(name, "residence", row.id, key, key, users[row.person_id], row.station_id,
                row.police_area_id, "/h5/me")
            for name, row, key in candidates if row.person_id in users]


@dataclass(frozen=True)
class Source:
    target_type: str
    rules: tuple[str, ...]
    rows: object
    dues: object


SOURCES = (
    Source("house", ("house_undeclared", "occupancy_unconfirmed"), _house_rows, _house_dues),
    Source("declaration", ("declaration_correction",), _declaration_rows, _declaration_dues),
    Source("residence", ("residence_permit", "permit_endorsement"), _residence_rows,
           _residence_dues),
)


def dues_of(source: Source, rows, now: datetime, s: Settings) -> list[Due]:
    if source.target_type == "residence":
        return source.dues(rows, now, s.rules, s)
    return source.dues(rows, now, s.rules)
