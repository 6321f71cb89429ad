"""KPI colour thresholds (versioned), stored KPI reports and in-console notices."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import JSONText, utcnow


class KpiThreshold(db.Model):
    """One version of a KPI's colour thresholds (percent); the newest per KPI is in force.

    Rows are never updated: an edit adds a version, so a stored report keeps the thresholds it
    was coloured with (the report also snapshots them)."""

    __table_args__ = (Index("ix_kpi_threshold_kpi_created", "kpi", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi: Mapped[str] = mapped_column(String(32))
    green_min: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    yellow_min: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    created_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"),
                                                             index=True)


class KpiReport(db.Model):
    """A generated progress report (XLSX + PDF) for one period and branch.

    `schedule_key` is set only for reports the scheduler makes ("<branch id>:<period>") and is
    unique, so two schedulers can never store two reports for the same half-month."""

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    period: Mapped[str] = mapped_column(String(16), index=True)
    schedule_key: Mapped[str | None] = mapped_column(String(48), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending / ready / failed
    generated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    requested_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"),
                                                               index=True)
    xlsx_path: Mapped[str | None] = mapped_column(String(255))
    pdf_path: Mapped[str | None] = mapped_column(String(255))
    # The computed figures and the thresholds in force, exactly as rendered into both files.
    figures: Mapped[dict | None] = mapped_column(JSONText)


class ConsoleNotice(db.Model):
    """A message for one officer shown in the console (officers have no WeChat link to push to)."""

    __table_args__ = (Index("ix_console_notice_officer_read", "officer_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"))
    title: Mapped[str] = mapped_column(String(128))
    link: Mapped[str | None] = mapped_column(String(255))
    dedupe_key: Mapped[str] = mapped_column(String(96), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)


class KpiAggregate(db.Model):
    """Pre-counted numerator/denominator of an address-based KPI for one period and community
    (see app/services/kpis/aggregates.py); equal to a live recount as of `KpiAggregateState`."""

    __table_args__ = (Index("ix_kpi_aggregate_period_kpi", "period", "kpi", "community_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(16))
    kpi: Mapped[str] = mapped_column(String(32))
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    police_area_id: Mapped[int | None] = mapped_column(ForeignKey("police_area.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    numerator: Mapped[int] = mapped_column(default=0)
    denominator: Mapped[int] = mapped_column(default=0)


class KpiAggregateState(db.Model):
    """When a period's aggregates were last brought up to date, and with which plate levels."""

    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    plate_levels: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
