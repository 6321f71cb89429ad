"""Alerts an officer must close: watch hits, 漏登, unreachable landlords, unanswered reminders."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.extensions import db
from app.models.base import TimestampMixin, utcnow

ALERT_KINDS = (
    "watch_hit",
    "missed_registration",
    "unreachable_landlord",
    "reminder_unanswered",
    "move_out_unconfirmed",
    "control_overdue",
)


class Alert(TimestampMixin, db.Model):
    __table_args__ = (
        Index("ix_alert_station_status", "station_id", "status"),
        Index("ix_alert_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    police_area_id: Mapped[int | None] = mapped_column(ForeignKey("police_area.id"), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int]
    summary: Mapped[str] = mapped_column(String(255))
    raised_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open / closed
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), index=True)
    outcome: Mapped[str | None] = mapped_column(Text)
    owner_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), index=True)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    close_note: Mapped[str | None] = mapped_column(Text)
    # "kind:object_type:object_id" while an escalation is open, NULL once closed: the unique key
    # lets the database refuse a second open escalation for the same thing (NULLs never clash).
    open_key: Mapped[str | None] = mapped_column(String(96), unique=True)

    @staticmethod
    def open_key_for(kind: str, object_type: str, object_id: int) -> str:
        return f"{kind}:{object_type}:{object_id}"

    @validates("status")
    def _closing_frees_the_open_key(self, _key, value):
        if value != "open":
            self.open_key = None
        return value
