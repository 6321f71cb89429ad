"""Penalties (处罚) on landlords who did not register tenants."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TimestampMixin, utcnow

PENALTY_KIND_LABELS = {"fine": "罚款", "warning": "警告"}


class Penalty(TimestampMixin, db.Model):
    """A penalty decision (处罚决定). The legal basis is chosen by the offence date from the table
    of laws (services/police/legal_basis.py); the citation and the quoted text are kept as they
    were when decided, so a later edit of the table never changes a decided record."""

    id: Mapped[int] = mapped_column(primary_key=True)
    landlord_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    house_id: Mapped[int] = mapped_column(ForeignKey("house.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    # One decision per 漏登 (unique; NULL for a decision from a house, any number of those).
    missed_registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("missed_registration.id"), index=True, unique=True
    )
    offence_date: Mapped[date] = mapped_column(Date)
    # The short name, e.g. "治安管理处罚法(2012)第五十七条" or "治安管理处罚法(2025修订)第六十八条"
    legal_basis: Mapped[str] = mapped_column(String(64))
    # The row of the table of laws (app/data/legal_bases.json) the basis was taken from.
    legal_basis_key: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # The full citation and the article text as quoted when decided.
    legal_citation: Mapped[str | None] = mapped_column(String(128))
    legal_text: Mapped[str | None] = mapped_column(Text)
    minor: Mapped[bool] = mapped_column(default=False, server_default="0")  # 情节较轻
    kind: Mapped[str] = mapped_column(String(16), default="fine")  # fine / warning
    amount_yuan: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    decided_by_officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), index=True)
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)  # 违法事实

    landlord = relationship("Person", foreign_keys=[landlord_person_id])
    house = relationship("House")
    decided_by = relationship("Officer")
