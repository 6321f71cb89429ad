"""Penalties (处罚) on landlords who did not register tenants."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import TimestampMixin, utcnow


class Penalty(TimestampMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    landlord_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    house_id: Mapped[int] = mapped_column(ForeignKey("house.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    missed_registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("missed_registration.id"), index=True
    )
    offence_date: Mapped[date] = mapped_column(Date)
    # e.g. "治安管理处罚法(2012)第五十七条" or "治安管理处罚法(2025修订)第六十八条"
    legal_basis: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="fine")  # fine / warning
    amount_yuan: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    decided_by_officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), index=True)
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
