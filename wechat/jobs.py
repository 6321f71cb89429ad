"""WeChat jobs: plain functions taking ids and plain values, run by the RQ worker in app context."""
from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.models import utcnow
from app.services.reminders.delivery import record_delivery_result
from wechat import push


def delivery_outcome(status: str) -> str:
    """A TEMPLATESENDJOBFINISH status ("success", "failed:user block", "failed: system failed")
    as a push result: sent, unreachable (the user blocked the account) or failed."""
    status = (status or "").strip().lower()
    if status == "success":
        return "sent"
    return "unreachable" if "user block" in status else "failed"


def record_template_delivery(msgid: int, status: str) -> bool:
    """Record a TEMPLATESENDJOBFINISH delivery result on the push it belongs to, and on the
    reminder behind it, so escalations count what reached the landlord, not what was sent."""
    record = push.record_delivery(int(msgid), str(status))
    if record is not None:
        record_delivery_result(record.dedupe_key, delivery_outcome(str(status)),
                               str(status)[:20] or None, utcnow())
    db.session.commit()
    return record is not None


def send_push(wechat_user_id: int, title: str, lines: list, link: str | None,
              dedupe_key: str) -> str:
    """Send one notice push (record first; at most once per dedupe key); returns its status."""
    result = push.send_push(wechat_user_id, title=title, lines=[tuple(line) for line in lines],
                            link=link, dedupe_key=dedupe_key)
    db.session.commit()
    return result.status


def retry_pushes(now_iso: str | None = None) -> dict[str, int]:
    """Periodic: end claims their worker abandoned, then send the pending pushes that are due
    (quiet hours over, a new day's quota, a worker that died before sending)."""
    now = datetime.fromisoformat(now_iso) if now_iso else utcnow()
    counts = {"reclaimed": push.reclaim_stale_sending(now)}
    counts.update(push.send_due_pushes(now))
    db.session.commit()
    return counts
