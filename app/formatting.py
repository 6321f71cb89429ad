"""How times and dates are shown: stored naive UTC, shown in Asia/Shanghai as 2026年12月1日 23:04.

One module for pages, receipts, the console, exports and push texts, so they never disagree.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from app import wording

# Asia/Shanghai has had no daylight saving since 1991: a fixed offset needs no tz database.
LOCAL_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def to_local(value: datetime) -> datetime:
    """A stored (naive UTC, or aware) datetime as a naive Asia/Shanghai wall-clock time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(LOCAL_TZ).replace(tzinfo=None)


def local_datetime(value: datetime | None) -> str:
    """"2026年12月1日 23:04" in Asia/Shanghai; "" for None."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return local_date(value)
    local = to_local(value)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def local_date(value: date | datetime | str | None) -> str:
    """"2026年12月1日": a datetime is taken as UTC and converted; a date (or ISO text) as is."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = to_local(value).date()
    return f"{value.year}年{value.month}月{value.day}日"


def local_now() -> datetime:
    """Now as a naive Asia/Shanghai wall-clock time."""
    return to_local(datetime.now(timezone.utc))


def local_today() -> date:
    """Today's date in Asia/Shanghai (not the server's zone): the default move-in date etc."""
    return local_now().date()


def lateness(hours: int | None) -> str:
    """Hours late as people say it: "5小时", "2天", "2天3小时"."""
    if not hours or hours <= 0:
        return ""
    days, rest = divmod(int(hours), 24)
    if not days:
        return f"{rest}小时"
    return f"{days}天" + (f"{rest}小时" if rest else "")


def register(app) -> None:
    """Make the helpers Jinja filters and globals on every template."""
    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_filter(local_date, "local_date")
    app.add_template_filter(lateness, "lateness")
    app.add_template_global(local_today, "local_today")

    for name in ("channel_label", "region_label", "nationality_label", "audit_action_label",
                 "yes_no", "field_sentence"):
        app.add_template_filter(getattr(wording, name), name)
    app.add_template_global(wording.reason_sentence, "reason_sentence")
