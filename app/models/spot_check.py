"""Spot checks (抽查): who was found on site and whether each was registered there."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Double, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TimestampMixin, utcnow


class SpotCheck(TimestampMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), index=True)
    house_id: Mapped[int] = mapped_column(ForeignKey("house.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    lat: Mapped[float | None] = mapped_column(Double)
    lng: Mapped[float | None] = mapped_column(Double)
    note: Mapped[str | None] = mapped_column(Text)

    persons: Mapped[list["SpotCheckPerson"]] = relationship(back_populates="spot_check")


class SpotCheckPerson(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    spot_check_id: Mapped[int] = mapped_column(ForeignKey("spot_check.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    was_registered: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(String(255))
    room: Mapped[str | None] = mapped_column(String(32))
    # The move-in declaration collected on site for a person found unregistered.
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declaration.id"), index=True)

    spot_check: Mapped[SpotCheck] = relationship(back_populates="persons")
    person: Mapped["Person"] = relationship()  # noqa: F821


class SpotCheckPlan(TimestampMixin, db.Model):
    """A station admin's random sample of rental houses to spot-check (the seed is recorded so
    the same draw can be reproduced)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    police_area_id: Mapped[int | None] = mapped_column(ForeignKey("police_area.id"), index=True)
    created_by_officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), index=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    sample_size: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(255))

    items: Mapped[list["SpotCheckPlanItem"]] = relationship(
        back_populates="plan", order_by="SpotCheckPlanItem.id")


class SpotCheckPlanItem(TimestampMixin, db.Model):
    """One sampled house of a plan, assigned to an officer; done once its spot check exists."""

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("spot_check_plan.id"), index=True)
    house_id: Mapped[int] = mapped_column(ForeignKey("house.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    police_area_id: Mapped[int | None] = mapped_column(ForeignKey("police_area.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), index=True)
    spot_check_id: Mapped[int | None] = mapped_column(ForeignKey("spot_check.id"), index=True)

    plan: Mapped[SpotCheckPlan] = relationship(back_populates="items")
    house: Mapped["House"] = relationship()  # noqa: F821
