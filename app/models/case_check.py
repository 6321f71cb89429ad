"""Pre-case cross-check (案前比对) and the missed registrations (漏登) it uncovers."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TimestampMixin


class CaseCheck(TimestampMixin, db.Model):
    __table_args__ = (
        UniqueConstraint("case_number", "document_type", "document_blind_index"),
        Index("ix_case_check_station_date", "station_id", "case_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_type: Mapped[str] = mapped_column(String(16))
    document_number_enc: Mapped[str] = mapped_column(Text)
    document_blind_index: Mapped[str] = mapped_column(String(64), index=True)
    document_masked: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    case_number: Mapped[str] = mapped_column(String(64))
    case_date: Mapped[date] = mapped_column(Date)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    is_floating: Mapped[bool] = mapped_column(default=True)
    registered_before_case: Mapped[bool] = mapped_column(default=False)
    imported_by_officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officer.id"), index=True
    )


class MissedRegistration(TimestampMixin, db.Model):
    """A 漏登: trace back who housed the person, with a deadline and an outcome."""

    __table_args__ = (Index("ix_missed_registration_station_status", "station_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_check_id: Mapped[int | None] = mapped_column(ForeignKey("case_check.id"), unique=True)
    # Where the miss was found: "case" (案前比对) or "spot_check" (抽查).
    source: Mapped[str] = mapped_column(String(16), default="case", server_default="case")
    spot_check_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("spot_check_person.id"), unique=True)
    landlord_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    document_type: Mapped[str] = mapped_column(String(16))
    document_blind_index: Mapped[str] = mapped_column(String(64), index=True)
    deadline: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open / resolved
    outcome: Mapped[str | None] = mapped_column(Text)
    house_id: Mapped[int | None] = mapped_column(ForeignKey("house.id"), index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by_officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officer.id"), index=True
    )

    case_check: Mapped[CaseCheck | None] = relationship()
