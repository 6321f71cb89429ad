"""Spot checks (抽查): who was found on site and whether each was registered there."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Double, ForeignKey, String, Text
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

    spot_check: Mapped[SpotCheck] = relationship(back_populates="persons")
    person: Mapped["Person"] = relationship()  # noqa: F821
