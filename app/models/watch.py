"""Persons of concern (关注人员) and their control tasks (五见/四知)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Double, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import JSONText, TimestampMixin, utcnow


class Watch(TimestampMixin, db.Model):
    """A listed person, known only by the blind index of the document (never the number)."""

    __table_args__ = (Index("ix_watch_lookup", "document_type", "document_blind_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_type: Mapped[str] = mapped_column(String(16))
    document_blind_index: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(64))
    listed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    delisted_at: Mapped[datetime | None] = mapped_column(DateTime)
    name: Mapped[str | None] = mapped_column(String(64))
    list_reason: Mapped[str | None] = mapped_column(Text)
    delist_reason: Mapped[str | None] = mapped_column(Text)


class ChecklistTemplate(TimestampMixin, db.Model):
    """The branch-editable 五见/四知 items: [{"key", "label", "deadline_days"}]. Editing adds a
    new version of the same name; tasks keep the version they were made with."""

    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    items: Mapped[list] = mapped_column(JSONText)
    default_deadline_days: Mapped[int] = mapped_column(Integer, default=7)
    is_active: Mapped[bool] = mapped_column(default=True)


class ControlTask(TimestampMixin, db.Model):
    __table_args__ = (Index("ix_control_task_station_status", "station_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    watch_id: Mapped[int] = mapped_column(ForeignKey("watch.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    house_id: Mapped[int | None] = mapped_column(ForeignKey("house.id"), index=True)
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declaration.id"), index=True)
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("checklist_template.id"), index=True
    )
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    police_area_id: Mapped[int | None] = mapped_column(ForeignKey("police_area.id"), index=True)
    # Snapshot of the template items with per-item completion:
    # [{"key", "label", "deadline_days", "deadline", "done_at", "officer_id", "lat", "lng",
    #   "no_gps_reason", "note", "photo"}]
    checklist: Mapped[list] = mapped_column(JSONText)
    deadline: Mapped[datetime] = mapped_column(DateTime, index=True)
    # open / done / moved_away / cancelled
    status: Mapped[str] = mapped_column(String(16), default="open")
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employer.id"), index=True)
    closed_reason: Mapped[str | None] = mapped_column(Text)  # moved away: where to, if known
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_by_officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officer.id"), index=True
    )
    evidence_lat: Mapped[float | None] = mapped_column(Double)
    evidence_lng: Mapped[float | None] = mapped_column(Double)
    evidence_note: Mapped[str | None] = mapped_column(Text)

    watch: Mapped[Watch] = relationship()
    person: Mapped["Person"] = relationship()  # noqa: F821
    template: Mapped["ChecklistTemplate | None"] = relationship()
