"""Houses (实有房屋/出租房屋) and the versioned security pledge text."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import CollectedMixin, TimestampMixin

RENTAL_TYPES = ("whole", "shared", "daily", "online", "dormitory")
RENTAL_TYPE_LABELS = {
    "whole": "整租",
    "shared": "合租",
    "daily": "日租",
    "online": "网约房",
    "dormitory": "宿舍",
}
HOUSE_STATUSES = ("active", "retired")


class PledgeVersion(TimestampMixin, db.Model):
    """One version of the 治安责任保证书 text; signatures point at the version they read."""

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[date] = mapped_column(Date)


class House(TimestampMixin, CollectedMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    address_id: Mapped[int] = mapped_column(ForeignKey("address.id"), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    police_area_id: Mapped[int] = mapped_column(ForeignKey("police_area.id"), index=True)
    owner_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    owner_wechat_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("wechat_user.id"), index=True
    )
    agent_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    is_rental: Mapped[bool] = mapped_column(default=False)
    rental_type: Mapped[str | None] = mapped_column(String(16))
    rooms: Mapped[int | None]
    area_m2: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    monthly_rent: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    pledge_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("pledge_version.id"), index=True
    )
    pledge_signer_name: Mapped[str | None] = mapped_column(String(64))
    pledge_signed_at: Mapped[datetime | None] = mapped_column(DateTime)
    pledge_ip: Mapped[str | None] = mapped_column(String(45))
    # A pledge signed on an officer's phone (警务通采集): the drawn signature's stored PNG, named
    # by its sha256.
    pledge_signature: Mapped[str | None] = mapped_column(String(80))
    is_vacant: Mapped[bool] = mapped_column(default=False)
    vacant_since: Mapped[date | None] = mapped_column(Date)
    last_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")

    address: Mapped["Address"] = relationship()  # noqa: F821
    owner: Mapped["Person | None"] = relationship(foreign_keys=[owner_person_id])  # noqa: F821
    agent: Mapped["Person | None"] = relationship(foreign_keys=[agent_person_id])  # noqa: F821
    pledge_version: Mapped[PledgeVersion | None] = relationship()
