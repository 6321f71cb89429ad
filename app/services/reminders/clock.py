"""The reminders' clock: quiet hours and local wall-clock time (REMINDER_TIMEZONE), WeChat's day."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from app.services.reminders.rules import Settings


# WeChat's day (and its quotas) turn over at midnight in Beijing.
WECHAT_DAY = timezone(timedelta(hours=8))


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
