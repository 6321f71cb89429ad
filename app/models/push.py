"""Outgoing WeChat pushes (template and subscribe messages), recorded before they are sent."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import JSONText, utcnow

PUSH_CHANNELS = ("template", "subscribe")
# pending: recorded, not (yet) sent — new, deferred (quiet hours, daily quota), or not sent after all;
# sending: claimed by one worker, the request may be on the wire; sent / failed / unreachable: final.
PUSH_STATUSES = ("pending", "sending", "sent", "failed", "unreachable")


class PushMessage(db.Model):
    __tablename__ = "push_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    wechat_user_id: Mapped[int | None] = mapped_column(ForeignKey("wechat_user.id"), index=True)
    openid: Mapped[str] = mapped_column(String(64))
    template_id: Mapped[str] = mapped_column(String(128))
    # What is sent: template data plus url (template) or page (subscribe).
    payload: Mapped[dict] = mapped_column(JSONText)
    # The caller's idempotency key ("reminder:12", "declaration:5:approved"): WeChat has none.
    dedupe_key: Mapped[str] = mapped_column(String(191), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    errcode: Mapped[int | None] = mapped_column(Integer)
    errmsg: Mapped[str | None] = mapped_column(String(255))
    msgid: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    # When one worker claimed it (pending → sending): a claim older than the send timeout is stale.
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # A pending push waits until then: quiet hours, or tomorrow once today's quota is spent.
    not_before: Mapped[datetime | None] = mapped_column(DateTime)
    # From the TEMPLATESENDJOBFINISH event: "success", "failed:user block", "failed: system failed".
    delivery_status: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
