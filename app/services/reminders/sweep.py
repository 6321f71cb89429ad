"""The reminder sweep (DESIGN §4 flow 7, §5): the right push to the right person, once.

A periodic sweep evaluates every rule over the whole district, streamed in id-ordered chunks so
memory stays flat in the number of houses, and inserts one Reminder per rule, target and period
(insert-if-absent on the unique key, so two schedulers, or a sweep run twice, add nothing new).
Sending claims a reminder with one conditional UPDATE, so two workers never both send it; quiet
hours and the daily template quota defer a send, never drop it. An unreachable landlord, three
unanswered reminders, or a move-out left unconfirmed raise one alert for the area officer.

Every timestamp is naive UTC as in the rest of the database; quiet hours and calendar dates
(居住证 anniversaries) are read in REMINDER_TIMEZONE (Asia/Shanghai).

The parts: rules (rules.py), the clock (clock.py), what is due (dues.py), quota (quota.py),
sending (delivery.py), escalations (escalations.py).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import House, Reminder, Residence
from app.services.reminders.dues import CHUNK, Due, SOURCES, Source, dues_of
from app.services.reminders.escalations import object_of, raise_escalation
from app.services.reminders.rules import DEFAULT_RULES, OPEN, Rule, SENDABLE, Settings, settings


# A claimed reminder is "sending" while one worker pushes it; a worker that died mid-send leaves
# it there, and the sweep hands it back after this long (the push's dedupe key stops a resend).
STALE_SENDING = timedelta(minutes=15)
SEND_BATCH = 200


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
            object_type, object_id = object_of(due.target_type, due.target_id)
            summary = (f"{DEFAULT_RULES[name].title}已连续{count}次未处理"
                       f"（自{due.episode[:4]}-{due.episode[4:6]}-{due.episode[6:]}起），请上门督促")
            if raise_escalation("reminder_unanswered", object_type, object_id, due.station_id,
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
                 for d in dues_of(source, source.rows(ids=targets), now, s)}
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
                if raise_escalation("move_out_unconfirmed", "residence", r.target_id, r.station_id,
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
            dues = dues_of(source, rows, now, s)
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
