"""Reminders and escalation (DESIGN §4 flow 7, §5): the right push to the right person, once.

A periodic sweep evaluates every rule over the whole district, streamed in id-ordered chunks so
memory stays flat in the number of houses, and inserts one Reminder per rule, target and period
(insert-if-absent on the unique key, so two schedulers, or a sweep run twice, add nothing new).
Sending claims a reminder with one conditional UPDATE, so two workers never both send it; quiet
hours and the daily template quota defer a send, never drop it. An unreachable landlord, three
unanswered reminders, or a move-out left unconfirmed raise one alert for the area officer.

Every timestamp is naive UTC as in the rest of the database; quiet hours and calendar dates
(居住证 anniversaries) are read in REMINDER_TIMEZONE (Asia/Shanghai).
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator

from flask import current_app
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.formatting import local_date
from app.models import (
    Address, Alert, Declaration, House, Reminder, Residence, WeChatUser,
)
from app.models.declaration import KIND_LABELS

# Statuses of a reminder whose obligation may still clear (then it becomes "answered").
OPEN = ("pending", "deferred", "sent", "failed", "unreachable")
SENDABLE = ("pending", "deferred")
# A claimed reminder is "sending" while one worker pushes it; a worker that died mid-send leaves
# it there, and the sweep hands it back after this long (the push's dedupe key stops a resend).
STALE_SENDING = timedelta(minutes=15)
# A closed "unreachable landlord" task is raised again only after this long, if still unreachable.
UNREACHABLE_REALERT = timedelta(days=30)
ESCALATION_KINDS = ("unreachable_landlord", "reminder_unanswered", "move_out_unconfirmed")
CHUNK = 2000
SEND_BATCH = 200


# -- rules as data ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """One reminder rule; every number is a default from DESIGN §5, overridable in config."""

    name: str
    target_type: str  # house / declaration / residence
    title: str  # the push title the recipient sees
    enabled: bool = True
    after_days: int = 0  # grace after the obligation arises before the first reminder
    repeat_days: int | None = None  # a new reminder every N days while unsettled; None: once
    escalate_after: int | None = None  # unanswered reminders before the area officer is told
    landlord: bool = True  # the landlord's obligation: unreachable means an escalation
    months: int = 0  # 居住证: months of residence before one may apply
    window_days: int = 0  # 居住证: how long after eligibility a first reminder still makes sense


DEFAULT_RULES: dict[str, Rule] = {r.name: r for r in (
    # A rental house with nobody declared and not marked vacant (户口登记条例 第十五条: 3 days).
    Rule("house_undeclared", "house", "出租房屋租客登记提醒", after_days=3, repeat_days=7,
         escalate_after=3),
    # "鲜活" data: the landlord confirms the registered tenants every 30 days.
    Rule("occupancy_unconfirmed", "house", "租客信息确认提醒", after_days=30, repeat_days=7,
         escalate_after=3),
    # A flagged or rejected declaration that no correction has followed yet.
    Rule("declaration_correction", "declaration", "申报更正提醒", after_days=3, repeat_days=7,
         escalate_after=3),
    # Created by validation (a tenant declared elsewhere); after_days is when the officer hears.
    Rule("move_out_confirm", "residence", "租客退租确认提醒", after_days=3),
    # 福建省实施《居住证暂行条例》办法 第七条: may apply after 6 months.
    Rule("residence_permit", "residence", "居住证办理提醒", landlord=False, months=6,
         window_days=30),
    # 居住证暂行条例 第十条: endorse yearly; remind in the month before each anniversary.
    Rule("permit_endorsement", "residence", "居住证签注提醒", landlord=False, months=6),
)}
_FIELDS = {f for f in Rule.__dataclass_fields__ if f not in ("name", "target_type")}


def load_rules(overrides: str | dict | None = None) -> dict[str, Rule]:
    """The rules with overrides from REMINDER_RULES (JSON: {"rule": {"after_days": 7}})."""
    if overrides is None:
        overrides = current_app.config.get("REMINDER_RULES")
    if isinstance(overrides, str):
        overrides = json.loads(overrides) if overrides.strip() else {}
    rules = dict(DEFAULT_RULES)
    for name, values in (overrides or {}).items():
        if name not in rules:
            raise ValueError(f"REMINDER_RULES: unknown rule {name!r}")
        unknown = set(values) - _FIELDS
        if unknown:
            raise ValueError(f"REMINDER_RULES[{name!r}]: unknown keys {sorted(unknown)}")
        rules[name] = replace(rules[name], **values)
    return rules


@dataclass(frozen=True)
class Settings:
    """Quiet hours, time zone and quota, read once from config and passed around as plain values."""

    quiet_start: time = time(22, 0)
    quiet_end: time = time(8, 0)
    tz_name: str = "Asia/Shanghai"
    daily_quota: int = 100_000
    rules: dict = field(default_factory=lambda: dict(DEFAULT_RULES))

    @property
    def tz(self):
        try:
            from zoneinfo import ZoneInfo

            return ZoneInfo(self.tz_name)
        except Exception:  # noqa: BLE001 - no tz database: China has had no DST since 1991
            if self.tz_name == "Asia/Shanghai":
                return timezone(timedelta(hours=8))
            raise


def _parse_hhmm(value: str) -> time:
    hours, minutes = str(value).strip().split(":")
    return time(int(hours), int(minutes))


def settings(config=None) -> Settings:
    """Settings from the app config (REMINDER_* and WECHAT_TEMPLATE_DAILY_QUOTA)."""
    config = current_app.config if config is None else config
    return Settings(
        quiet_start=_parse_hhmm(config.get("REMINDER_QUIET_START") or "22:00"),
        quiet_end=_parse_hhmm(config.get("REMINDER_QUIET_END") or "08:00"),
        tz_name=config.get("REMINDER_TIMEZONE") or "Asia/Shanghai",
        daily_quota=int(config.get("WECHAT_TEMPLATE_DAILY_QUOTA") or 100_000),
        rules=load_rules(config.get("REMINDER_RULES")),
    )


# -- clock: quiet hours and local dates ---------------------------------------------------------

def local(now: datetime, s: Settings) -> datetime:
    """A naive UTC instant as naive local wall-clock time."""
    return now.replace(tzinfo=timezone.utc).astimezone(s.tz).replace(tzinfo=None)


def to_utc(wall: datetime, s: Settings) -> datetime:
    """A naive local wall-clock time as a naive UTC instant."""
    return wall.replace(tzinfo=s.tz).astimezone(timezone.utc).replace(tzinfo=None)


def in_quiet_hours(now: datetime, s: Settings) -> bool:
    """Whether pushes must wait at `now` (start == end means no quiet hours)."""
    start, end = s.quiet_start, s.quiet_end
    if start == end:
        return False
    t = local(now, s).time()
    return (start <= t or t < end) if start > end else (start <= t < end)


def next_send_time(now: datetime, s: Settings) -> datetime:
    """`now` outside quiet hours, else the end of the quiet hours (naive UTC)."""
    if not in_quiet_hours(now, s):
        return now
    wall = local(now, s)
    end = datetime.combine(wall.date(), s.quiet_end)
    if end <= wall:
        end += timedelta(days=1)
    return to_utc(end, s)


def next_quota_day(now: datetime, s: Settings) -> datetime:
    """The first moment pushes may go again once today's quota is spent: tomorrow's morning
    (WeChat's day turns over at midnight in Beijing; then the quiet hours still apply)."""
    beijing = now.replace(tzinfo=timezone.utc).astimezone(WECHAT_DAY)
    midnight = datetime.combine(beijing.date() + timedelta(days=1), time(0, 0), WECHAT_DAY)
    return next_send_time(midnight.astimezone(timezone.utc).replace(tzinfo=None), s)


def add_months(start: date, months: int) -> date:
    """The same day `months` later (clamped to the month's end), as residence_permit_date does."""
    month = start.month + months
    year = start.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


# -- evaluation ---------------------------------------------------------------------------------

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


def _dues(source: Source, rows, now: datetime, s: Settings) -> list[Due]:
    if source.target_type == "residence":
        return source.dues(rows, now, s.rules, s)
    return source.dues(rows, now, s.rules)


# -- writing reminders --------------------------------------------------------------------------

def _insert_if_absent(dues: list[Due], now: datetime) -> int:
    """Insert one reminder per due (rule, target, period) unless it exists; return how many.

    The unique constraint decides, so two sweeps at once cannot both add a reminder: MariaDB/MySQL
    `ON DUPLICATE KEY UPDATE id = id` (unlike INSERT IGNORE it ignores nothing but the duplicate),
    SQLite/PostgreSQL `ON CONFLICT DO NOTHING`; any other backend falls back to one savepoint
    per row. A deadlock between two sweeps fails the job, which is retried: the sweep is
    idempotent.
    """
    if not dues:
        return 0
    # Most dues of a re-sweep exist already: one indexed read is cheaper than upserting them,
    # and it is what gives an exact count (MySQL's FOUND_ROWS rowcount counts duplicates too).
    existing = set()
    for target_type in {d.target_type for d in dues}:
        group = [d for d in dues if d.target_type == target_type]
        existing.update(db.session.execute(
            select(Reminder.rule, Reminder.target_type, Reminder.target_id, Reminder.period_key)
            .where(Reminder.rule.in_({d.rule for d in group}),
                   Reminder.target_type == target_type,
                   Reminder.target_id.in_({d.target_id for d in group}),
                   Reminder.period_key.in_({d.period_key for d in group}))).tuples())
    dues = [d for d in dues
            if (d.rule, d.target_type, d.target_id, d.period_key) not in existing]
    if not dues:
        return 0
    table = Reminder.__table__
    rows = [{"rule": d.rule, "target_type": d.target_type, "target_id": d.target_id,
             "period_key": d.period_key, "recipient_wechat_user_id": d.recipient_wechat_user_id,
             "station_id": d.station_id, "link": d.link, "status": "pending", "due_at": now,
             "created_at": now, "updated_at": now} for d in dues]
    dialect = db.session.get_bind().dialect.name
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        stmt = mysql_insert(table).on_duplicate_key_update(id=table.c.id)
    elif dialect in ("sqlite", "postgresql"):
        module = __import__(f"sqlalchemy.dialects.{dialect}", fromlist=["insert"])
        stmt = module.insert(table).on_conflict_do_nothing()
    else:
        added = 0
        for row in rows:
            try:
                with db.session.begin_nested():
                    db.session.execute(insert(table), row)
                added += 1
            except IntegrityError:
                pass
        return added
    # Key order, as in the unique index, so two sweeps lock rows in one order (no deadlock).
    rows.sort(key=lambda r: (r["rule"], r["target_type"], r["target_id"], r["period_key"]))
    db.session.execute(stmt, rows)
    return len(rows)  # an upper bound: a racing sweep may have added some of them first


def _object_of(target_type: str, target_id: int) -> tuple[str, int]:
    """The house a reminder is about (the landlord's house) when there is one, else the target."""
    if target_type == "house":
        return "house", target_id
    model = Declaration if target_type == "declaration" else Residence
    house_id = db.session.execute(select(model.house_id).where(model.id == target_id)).scalar()
    return ("house", house_id) if house_id else (target_type, target_id)


def _raise_alert(kind: str, object_type: str, object_id: int, station_id: int | None,
                 police_area_id: int | None, summary: str, now: datetime,
                 since: datetime | None = None) -> Alert | None:
    """Escalations go through the one alert service (app/services/police/alerts.py)."""
    from app.services.police.alerts import raise_alert

    return raise_alert(kind, object_type, object_id, station_id=station_id,
                       police_area_id=police_area_id, summary=summary, now=now, since=since)


def _escalate_unanswered(dues: list[Due], rules: dict[str, Rule], now: datetime) -> int:
    """Alert the area officer when a rule went unanswered through `escalate_after` reminders."""
    raised = 0
    by_rule: dict[str, list[Due]] = defaultdict(list)
    for due in dues:
        limit = rules[due.rule].escalate_after
        if limit and due.periods_before >= limit:
            by_rule[due.rule].append(due)
    for name, group in by_rule.items():
        current = {(d.target_id): d for d in group}
        sent = defaultdict(int)
        for target_id, key in db.session.execute(
                select(Reminder.target_id, Reminder.period_key).where(
                    Reminder.rule == name, Reminder.target_type == group[0].target_type,
                    Reminder.target_id.in_(list(current)), Reminder.status == "sent")).all():
            due = current[target_id]
            # Only earlier periods of this episode count: the latest push gets its full period.
            if key != due.period_key and key.startswith(due.episode):
                sent[target_id] += 1
        for target_id, count in sent.items():
            if count < rules[name].escalate_after:
                continue
            due = current[target_id]
            object_type, object_id = _object_of(due.target_type, due.target_id)
            summary = (f"{DEFAULT_RULES[name].title}已连续{count}次未处理"
                       f"（自{due.episode[:4]}-{due.episode[4:6]}-{due.episode[6:]}起），请上门督促")
            if _raise_alert("reminder_unanswered", object_type, object_id, due.station_id,
                            due.police_area_id, summary, now,
                            since=datetime.strptime(due.episode, "%Y%m%d")):
                raised += 1
    return raised


def _answer_settled(source: Source, now: datetime, s: Settings, chunk: int) -> Iterator[int]:
    """Mark open reminders answered when their obligation cleared (or a new episode began)."""
    rules = [r for r in source.rules if s.rules[r].landlord]
    if not rules:
        return
    last = 0
    while True:
        rows = db.session.execute(
            select(Reminder.id, Reminder.rule, Reminder.target_id, Reminder.period_key)
            .where(Reminder.target_type == source.target_type, Reminder.rule.in_(rules),
                   Reminder.status.in_(OPEN), Reminder.id > last)
            .order_by(Reminder.id).limit(chunk)).all()
        if not rows:
            return
        last = rows[-1].id
        targets = sorted({r.target_id for r in rows})
        still = {(d.rule, d.target_id): d.episode
                 for d in _dues(source, source.rows(ids=targets), now, s)}
        settled = [r.id for r in rows
                   if not r.period_key.startswith(still.get((r.rule, r.target_id), "\0"))]
        if settled:
            db.session.execute(update(Reminder).where(Reminder.id.in_(settled),
                                                      Reminder.status.in_(OPEN))
                               .values(status="answered", answered_at=now, updated_at=now))
        yield len(settled)


def _move_out_sweep(now: datetime, s: Settings, chunk: int) -> Iterator[tuple[int, int]]:
    """Move-out confirmations (made by validation): answered once the residence ended; left
    unconfirmed past the rule's days, the area officer is asked to check (once)."""
    rule = s.rules["move_out_confirm"]
    last = 0
    while True:
        rows = db.session.execute(
            select(Reminder.id, Reminder.target_id, Reminder.station_id, Reminder.created_at,
                   Reminder.due_at)
            .where(Reminder.rule == rule.name, Reminder.status.in_(OPEN), Reminder.id > last)
            .order_by(Reminder.id).limit(chunk)).all()
        if not rows:
            return
        last = rows[-1].id
        live = {rid: (house_id, area) for rid, house_id, area in db.session.execute(
            select(Residence.id, Residence.house_id, House.police_area_id)
            .join(House, House.id == Residence.house_id)
            .where(Residence.id.in_({r.target_id for r in rows}),
                   Residence.active_slot.is_not(None))).all()}
        settled = [r.id for r in rows if r.target_id not in live]
        if settled:
            db.session.execute(update(Reminder).where(Reminder.id.in_(settled),
                                                      Reminder.status.in_(OPEN))
                               .values(status="answered", answered_at=now, updated_at=now))
        raised = 0
        for r in rows:
            if r.target_id in live and rule.enabled and \
                    (r.due_at or r.created_at) + timedelta(days=rule.after_days) <= now:
                house_id, area = live[r.target_id]
                if _raise_alert("move_out_unconfirmed", "residence", r.target_id, r.station_id,
                                area, f"租客已在别处登记入住，原房东超过{rule.after_days}天"
                                f"未确认退租（房屋#{house_id}），请核实", now,
                                since=r.created_at):
                    raised += 1
        yield len(settled), raised


@dataclass
class SweepStats:
    answered: int = 0
    created: int = 0
    escalated: int = 0
    chunks: int = 0
    reclaimed: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def sweep(now: datetime, s: Settings | None = None, *, chunk: int = CHUNK) -> Iterator[SweepStats]:
    """Evaluate every rule over the district in chunks; yields after each chunk is flushed.

    The caller commits at each yield (short transactions: a second scheduler is never blocked
    for long), so memory and locks stay flat in the number of houses.
    """
    s = s or settings()
    stats = SweepStats()
    stats.reclaimed = reclaim_stale_sends(now)
    for source in SOURCES:
        for answered in _answer_settled(source, now, s, chunk):
            stats.answered += answered
            stats.chunks += 1
            yield stats
    for answered, raised in _move_out_sweep(now, s, chunk):
        stats.answered += answered
        stats.escalated += raised
        stats.chunks += 1
        yield stats
    for source in SOURCES:
        if not any(s.rules[r].enabled for r in source.rules):
            continue
        last = 0
        while True:
            rows = source.rows(after=last, limit=chunk)
            if not rows:
                break
            last = rows[-1].id
            dues = _dues(source, rows, now, s)
            stats.created += _insert_if_absent(dues, now)
            stats.escalated += _escalate_unanswered(dues, s.rules, now)
            stats.chunks += 1
            yield stats


def reclaim_stale_sends(now: datetime) -> int:
    """Hand back reminders a dead worker left in "sending"; the push dedupe key stops a resend."""
    return db.session.execute(update(Reminder).where(
        Reminder.status == "sending", Reminder.updated_at < now - STALE_SENDING)
        .values(status="pending", updated_at=now)).rowcount or 0


def due_reminder_ids(now: datetime, *, limit: int, chunk: int = 5000) -> Iterator[list[int]]:
    """Ids of reminders due to be sent, oldest first, in chunks, at most `limit` in all."""
    last, left = 0, limit
    while left > 0:
        ids = list(db.session.execute(
            select(Reminder.id).where(Reminder.status.in_(SENDABLE), Reminder.due_at <= now,
                                      Reminder.id > last)
            .order_by(Reminder.id).limit(min(chunk, left))).scalars())
        if not ids:
            return
        last, left = ids[-1], left - len(ids)
        yield ids


# -- quota --------------------------------------------------------------------------------------
# The push layer (wechat/push.py) reserves each template message from a Redis counter per
# WeChat day (Beijing time) shared by every process; reminders only read it, to queue no more than
# today can send and to carry the rest over to tomorrow morning.
QUOTA_KEY = "anju:wechat:quota:template:{day}"  # the same key as wechat/push.py QUOTA_KEY
WECHAT_DAY = timezone(timedelta(hours=8))


def quota_key(now: datetime) -> str:
    """The Redis key counting today's template messages (WeChat's day turns over in Beijing)."""
    day = now.replace(tzinfo=timezone.utc).astimezone(WECHAT_DAY).strftime("%Y%m%d")
    return QUOTA_KEY.format(day=day)


def quota_used(now: datetime) -> int:
    """Template messages sent today by every process."""
    from app.redis_conn import get_redis

    return int(get_redis().get(quota_key(now)) or 0)


def quota_spent(now: datetime, s: Settings) -> bool:
    """Whether today's template quota (WECHAT_TEMPLATE_DAILY_QUOTA) is used up."""
    return quota_used(now) >= s.daily_quota


# -- sending ------------------------------------------------------------------------------------

def claim(reminder_id: int, now: datetime, s: Settings | None = None) -> str:
    """Take a due reminder for sending: "claimed" for exactly one caller however many race.

    In quiet hours it is deferred to the end of them instead; "skipped" when it is not (or no
    longer) sendable. The caller commits right after, before the push goes out.
    """
    s = s or settings()
    sendable = and_(Reminder.id == reminder_id, Reminder.status.in_(SENDABLE),
                    or_(Reminder.due_at.is_(None), Reminder.due_at <= now))
    if in_quiet_hours(now, s):
        deferred = db.session.execute(update(Reminder).where(sendable).values(
            status="deferred", due_at=next_send_time(now, s), updated_at=now)).rowcount
        return "deferred" if deferred == 1 else "skipped"
    # One conditional UPDATE: the row lock makes a racing worker re-read "sending" and match 0.
    claimed = db.session.execute(update(Reminder).where(sendable).values(
        status="sending", updated_at=now)).rowcount
    return "claimed" if claimed == 1 else "skipped"


def _message(reminder: Reminder, s: Settings) -> tuple[str, list[tuple[str, str]]]:
    rule = s.rules.get(reminder.rule) or DEFAULT_RULES.get(reminder.rule)
    title = rule.title if rule else "安居提醒"

    def address_of(house_id):
        text = db.session.execute(select(Address.full_text).join(House, House.address_id ==
                                                                 Address.id)
                                  .where(House.id == house_id)).scalar()
        return text or "—"

    if reminder.rule == "house_undeclared":
        return title, [("房屋地址", address_of(reminder.target_id)),
                       ("提醒事项", f"您的出租房屋已超过{rule.after_days}天未登记租客"),
                       ("办理方式", "请点击登记租客；如房屋空置，请在页面中标记为空置")]
    if reminder.rule == "occupancy_unconfirmed":
        return title, [("房屋地址", address_of(reminder.target_id)),
                       ("提醒事项", f"已超过{rule.after_days}天未确认租客信息"),
                       ("办理方式", "请点击核对租客，一键确认仍在住或登记变化")]
    if reminder.rule == "declaration_correction":
        declaration = db.session.get(Declaration, reminder.target_id)
        lines = [("申报事项", KIND_LABELS.get(declaration.kind, declaration.kind)
                  if declaration else "申报"),
                 ("回执码", declaration.receipt_code if declaration else "—"),
                 ("提醒事项", "民警需要核实您的申报，请按要求补充或更正"
                  if declaration and declaration.status == "flagged"
                  else "您的申报已被退回，请按退回原因更正后重新提交")]
        return title, lines
    if reminder.rule == "move_out_confirm":
        residence = db.session.get(Residence, reminder.target_id)
        return title, [("房屋地址", address_of(residence.house_id) if residence else "—"),
                       ("提醒事项", "您登记的一位租客已在其他房屋登记入住"),
                       ("办理方式", "如该租客已搬离，请点击登记退租")]
    residence = db.session.get(Residence, reminder.target_id)
    where = address_of(residence.house_id) if residence else "—"
    if reminder.rule == "residence_permit":
        return title, [("居住地址", where),
                       ("提醒事项", f"您已登记居住满{rule.months}个月，可以申请办理居住证")]
    anniversary = local_date(reminder.period_key[1:])  # "y2026-12-01" → 2026年12月1日
    return title, [("居住地址", where),
                   ("提醒事项", f"您的居住证将于{anniversary}满一年，请在此前办理签注")]


def deliver(reminder_id: int, now: datetime, s: Settings | None = None) -> str:
    """Push a claimed reminder and record the result: sent, deferred, failed or unreachable.

    An unreachable landlord (43004, or no WeChat account at all) is escalated at once.
    """
    from app.services.reminders import notifications

    s = s or settings()
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None or reminder.status != "sending":
        return "skipped"
    rule = s.rules.get(reminder.rule) or DEFAULT_RULES[reminder.rule]
    user = (db.session.get(WeChatUser, reminder.recipient_wechat_user_id)
            if reminder.recipient_wechat_user_id else None)
    if user is None or (user.unreachable_at is not None and user.source != "miniapp"):
        # Nobody to push to: spending quota on a known-unreachable follower helps no one
        # (as in wechat/push.py; a mini-program user's refusal is per template).
        result = notifications.PushResult("no_recipient" if user is None else "unreachable",
                                          "无微信账号" if user is None else "用户已取消关注")
    elif quota_spent(now, s):
        result = notifications.PushResult("deferred", "quota")
    else:
        title, lines = _message(reminder, s)
        try:
            result = notifications.send_push(user.id, title=title, lines=lines,
                                             link=reminder.link,
                                             dedupe_key=f"reminder:{reminder.id}")
        except BaseException:
            # Nothing is known to have gone out: hand the reminder back for the next try
            # (a push that did go out is recognised by its dedupe key).
            reminder.status = "pending"
            db.session.flush()
            raise
    return _record(reminder, result, rule, user, now, s)


def record_delivery_result(dedupe_key: str, status: str, detail: str | None, now: datetime,
                           s: Settings | None = None) -> str | None:
    """Record a result that arrives later (TEMPLATESENDJOBFINISH: a block or a failure after
    WeChat accepted the send) for the reminder behind a push dedupe key "reminder:<id>"."""
    from app.services.reminders.notifications import PushResult

    prefix, _, raw_id = (dedupe_key or "").partition(":")
    if prefix != "reminder" or not raw_id.isdigit():
        return None
    reminder = db.session.get(Reminder, int(raw_id))
    if reminder is None or reminder.status not in ("sent", "sending"):
        return None
    s = s or settings()
    rule = s.rules.get(reminder.rule) or DEFAULT_RULES[reminder.rule]
    user = (db.session.get(WeChatUser, reminder.recipient_wechat_user_id)
            if reminder.recipient_wechat_user_id else None)
    if status != "sent":
        reminder.sent_at = None
    return _record(reminder, PushResult(status, detail), rule, user, now, s)


def _record(reminder: Reminder, result, rule: Rule, user, now: datetime, s: Settings) -> str:
    status = result.status
    reminder.delivery_result = status if not result.detail else f"{status}: {result.detail}"[:32]
    if status in ("sent", "duplicate"):
        reminder.status, reminder.sent_at = "sent", reminder.sent_at or now
    elif status == "deferred":
        reminder.status = "deferred"
        # Quota spent: carried over to tomorrow morning; otherwise (quiet hours or a busy
        # channel on the push side) tried again a little later.
        reminder.due_at = (next_quota_day(now, s) if quota_spent(now, s)
                           else next_send_time(now + timedelta(minutes=30), s))
    elif status in ("unreachable", "no_recipient"):
        reminder.status = "unreachable"
        if user is not None and user.unreachable_at is None:
            user.unreachable_at = now
        if rule.landlord:
            object_type, object_id = _object_of(reminder.target_type, reminder.target_id)
            why = "未绑定微信" if status == "no_recipient" else "已取消关注公众号，无法推送"
            _raise_alert("unreachable_landlord", object_type, object_id, reminder.station_id,
                         None, f"房东{why}：{rule.title}无法送达，请电话或上门联系", now,
                         since=now - UNREACHABLE_REALERT)
    else:
        reminder.status, reminder.error = "failed", (result.detail or status)[:2000]
    db.session.flush()
    return reminder.status


# -- console ------------------------------------------------------------------------------------

def escalations_for(officer, *, status: str = "open", page: int = 1, per_page: int = 50):
    """The escalation alerts in the officer's area, newest first: (alerts, has_next)."""
    from app.services.accounts.scoping import area_clause

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
    from app.services.accounts.scoping import area_clause

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
