"""Reminders: one per rule, target and period, recorded before sending."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import TimestampMixin


class Reminder(TimestampMixin, db.Model):
    __table_args__ = (
        # The period key makes "one reminder per rule, target and period" a database fact.
        UniqueConstraint("rule", "target_type", "target_id", "period_key"),
        Index("ix_reminder_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(32))
    target_type: Mapped[str] = mapped_column(String(16))  # house / declaration / residence
    target_id: Mapped[int]
    period_key: Mapped[str] = mapped_column(String(32))
    recipient_wechat_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("wechat_user.id"), index=True
    )
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"), index=True)
    link: Mapped[str | None] = mapped_column(String(255))
    # pending / deferred / sent / failed / unreachable / answered
    status: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    delivery_result: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
