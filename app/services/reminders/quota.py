"""The daily template-message quota, as reminders read it.

The push layer (wechat/push.py) reserves each template message from a Redis counter per WeChat
day (Beijing time) shared by every process, under this one key; reminders only read it, to queue
no more than today can send and to carry the rest over to tomorrow morning."""
from __future__ import annotations

from datetime import datetime, timezone


from app.redis_conn import get_redis
from app.services.reminders.clock import WECHAT_DAY
from app.services.reminders.rules import Settings


QUOTA_KEY = "anju:wechat:quota:{channel}:{day}"


def quota_key(now: datetime, channel: str = "template") -> str:
    """The Redis key counting today's messages of a channel (WeChat's day turns over in Beijing)."""
    day = now.replace(tzinfo=timezone.utc).astimezone(WECHAT_DAY).strftime("%Y%m%d")
    return QUOTA_KEY.format(channel=channel, day=day)


def quota_used(now: datetime) -> int:
    """Template messages sent today by every process."""
    return int(get_redis().get(quota_key(now)) or 0)


def quota_spent(now: datetime, s: Settings) -> bool:
    """Whether today's template quota (WECHAT_TEMPLATE_DAILY_QUOTA) is used up."""
    return quota_used(now) >= s.daily_quota
