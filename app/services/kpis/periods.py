"""KPI periods: a month (2026-11) or a half-month (2026-11-H1 = 1st–15th, -H2 = 16th–end), local."""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from app.services.errors import RuleError

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
_PERIOD = re.compile(r"^(\d{4})-(\d{2})(?:-(H1|H2))?$")


@dataclass(frozen=True)
class Period:
    year: int
    month: int
    half: str | None = None  # None (whole month), "H1" or "H2"

    @property
    def key(self) -> str:
        base = f"{self.year:04d}-{self.month:02d}"
        return f"{base}-{self.half}" if self.half else base

    @property
    def label(self) -> str:
        base = f"{self.year}年{self.month}月"
        return base + {"H1": "上半月", "H2": "下半月"}.get(self.half or "", "")

    @property
    def start_date(self) -> date:
        """First local day of the period."""
        return date(self.year, self.month, 16 if self.half == "H2" else 1)

    @property
    def end_date(self) -> date:
        """The local day after the period's last day (exclusive bound)."""
        if self.half == "H1":
            return date(self.year, self.month, 16)
        last = calendar.monthrange(self.year, self.month)[1]
        return date(self.year, self.month, last) + timedelta(days=1)

    @property
    def utc_start(self) -> datetime:
        """Naive UTC instant of local midnight starting the period."""
        return _local_midnight_utc(self.start_date)

    @property
    def utc_end(self) -> datetime:
        """Naive UTC instant of local midnight ending the period (exclusive)."""
        return _local_midnight_utc(self.end_date)

    def previous(self) -> "Period":
        """The period of the same length just before this one."""
        if self.half == "H2":
            return Period(self.year, self.month, "H1")
        y, m = (self.year, self.month - 1) if self.month > 1 else (self.year - 1, 12)
        return Period(y, m, "H2" if self.half == "H1" else None)

    def month_to_date(self) -> "Period | MonthToDate":
        """The month up to this period's end (the 约谈 rule's monthly pre-case rate)."""
        if self.half == "H1":
            return MonthToDate(self)
        return Period(self.year, self.month)

    def trail(self, n: int) -> list["Period"]:
        """The last n periods ending with this one, oldest first."""
        out = [self]
        while len(out) < n:
            out.append(out[-1].previous())
        return out[::-1]


@dataclass(frozen=True)
class MonthToDate:
    """The first half of a month seen as "the month so far": the same bounds, and the same key,
    as its H1 (so a link to it drills down into exactly those days)."""

    half_month: Period

    key = property(lambda self: self.half_month.key)
    start_date = property(lambda self: self.half_month.start_date)
    end_date = property(lambda self: self.half_month.end_date)
    utc_start = property(lambda self: self.half_month.utc_start)
    utc_end = property(lambda self: self.half_month.utc_end)


def _local_midnight_utc(day: date) -> datetime:
    local = datetime.combine(day, time(0), tzinfo=LOCAL_TZ)
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def parse_period(text: str | None) -> Period:
    """2026-11, 2026-11-H1 or 2026-11-H2 → Period; anything else is a RuleError in Chinese."""
    match = _PERIOD.match((text or "").strip().upper())
    if not match:
        raise RuleError("period", "统计周期格式应为 2026-11、2026-11-H1 或 2026-11-H2")
    year, month, half = int(match[1]), int(match[2]), match[3]
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        raise RuleError("period", "统计周期的年份或月份不正确")
    return Period(year, month, half)


def local_date(utc_naive: datetime) -> date:
    """The Asia/Shanghai date of a naive UTC instant."""
    return utc_naive.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ).date()


def half_month_just_ended(now_utc: datetime) -> Period:
    """The half-month that ended most recently before the local day of `now_utc`."""
    today = local_date(now_utc)
    if today.day >= 16:
        return Period(today.year, today.month, "H1")
    y, m = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return Period(y, m, "H2")


def current_half_month(now_utc: datetime) -> Period:
    """The half-month containing the local day of `now_utc`."""
    today = local_date(now_utc)
    return Period(today.year, today.month, "H1" if today.day <= 15 else "H2")
