"""Pre-case cross-check (案前比对) and the missed registrations (漏登) it uncovers."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import JSONText, TimestampMixin


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
    # The evidence of the registered-before-case decision (app/services/police/registered.py):
    # which declaration (residence or employment), submitted when; empty for a miss.
    evidence_kind: Mapped[str | None] = mapped_column(String(16))  # residence / employment
    evidence_record_id: Mapped[int | None] = mapped_column()
    evidence_declaration_id: Mapped[int | None] = mapped_column(
        ForeignKey("declaration.id"), index=True)
    evidence_submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("case_import.id"), index=True)

    station: Mapped["Station"] = relationship()  # noqa: F821


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

    # Traced back by the officer: where the person actually lived, how it came about.
    actual_address_text: Mapped[str | None] = mapped_column(String(128))
    actual_address_id: Mapped[int | None] = mapped_column(ForeignKey("address.id"), index=True)
    outcome_code: Mapped[str | None] = mapped_column(String(16))
    # 已补登: the first declaration registering the person after the miss (the task stays open).
    registered_declaration_id: Mapped[int | None] = mapped_column(
        ForeignKey("declaration.id"), index=True)
    registered_at: Mapped[datetime | None] = mapped_column(DateTime)

    case_check: Mapped[CaseCheck | None] = relationship()
    station: Mapped["Station"] = relationship()  # noqa: F821
    spot_check_person: Mapped["SpotCheckPerson | None"] = relationship()  # noqa: F821
    house: Mapped["House | None"] = relationship()  # noqa: F821
    actual_address: Mapped["Address | None"] = relationship()  # noqa: F821
    registered_declaration: Mapped["Declaration | None"] = relationship(  # noqa: F821
        foreign_keys=[registered_declaration_id])


class CaseImport(TimestampMixin, db.Model):
    """One upload of case-involved persons; a large file runs as a job and reports progress."""

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    # Where a file waiting for the job is kept (CASE_IMPORT_FOLDER); removed when done.
    path: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/running/done/failed
    total: Mapped[int] = mapped_column(default=0)
    processed: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    missed: Mapped[int] = mapped_column(default=0)
    # [[line, reason], ...] in Chinese; the first MAX_ERRORS kept.
    errors: Mapped[list | None] = mapped_column(JSONText)
    error_count: Mapped[int] = mapped_column(default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
