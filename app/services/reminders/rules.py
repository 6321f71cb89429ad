"""Reminder rules as data (DESIGN §5) and the settings they are read with: quiet hours,
time zone, quota; every number a default from config (REMINDER_* settings)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import time, timedelta, timezone
from zoneinfo import ZoneInfo

from app.services import ports


# Statuses of a reminder whose obligation may still clear (then it becomes "answered").
OPEN = ("pending", "deferred", "sent", "failed", "unreachable")
SENDABLE = ("pending", "deferred")


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
        overrides = (ports.config() or {}).get("REMINDER_RULES")
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
    config = (ports.config() or {}) if config is None else config
    return Settings(
        quiet_start=_parse_hhmm(config.get("REMINDER_QUIET_START") or "22:00"),
        quiet_end=_parse_hhmm(config.get("REMINDER_QUIET_END") or "08:00"),
        tz_name=config.get("REMINDER_TIMEZONE") or "Asia/Shanghai",
        daily_quota=int(config.get("WECHAT_TEMPLATE_DAILY_QUOTA") or 100_000),
        rules=load_rules(config.get("REMINDER_RULES")),
    )
