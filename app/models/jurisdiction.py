"""Jurisdiction tree: 分局 → 派出所 → 警务区 → 社区/村居."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TimestampMixin


class Branch(TimestampMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    # First six digits of the district's administrative code: 户籍 inside it is not floating.
    region_code: Mapped[str | None] = mapped_column(String(6))

    stations: Mapped[list["Station"]] = relationship(back_populates="branch")


class Station(TimestampMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))

    branch: Mapped[Branch] = relationship(back_populates="stations")
    police_areas: Mapped[list["PoliceArea"]] = relationship(back_populates="station")


class PoliceArea(TimestampMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))

    station: Mapped[Station] = relationship(back_populates="police_areas")
    communities: Mapped[list["Community"]] = relationship(back_populates="police_area")


class Community(TimestampMixin, db.Model):
    # Names repeat across a city (every district has a 新村社区): unique within a station only.
    __table_args__ = (UniqueConstraint("station_id", "name", name="uq_community_station_id_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    police_area_id: Mapped[int] = mapped_column(ForeignKey("police_area.id"), index=True)
    # Denormalised so scoping by station needs no join.
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))

    police_area: Mapped[PoliceArea] = relationship(back_populates="communities")
    station: Mapped[Station] = relationship()
