"""Standard address (标准地址) with its QR door plate."""
from __future__ import annotations

import base64
import os
import secrets
from datetime import datetime

from sqlalchemy import DateTime, Double, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import JSONText, TimestampMixin

ADDRESS_LEVELS = ("building", "unit", "room")
ADDRESS_STATUSES = ("active", "retired")


def new_qr_token() -> str:
    """Unguessable door-plate token (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def new_qr_tokens(n: int) -> list[str]:
    """n tokens like new_qr_token's from one read of the system's random source (imports)."""
    pool = os.urandom(16 * n)
    return [base64.urlsafe_b64encode(pool[i:i + 16]).rstrip(b"=").decode("ascii")
            for i in range(0, 16 * n, 16)]


class Address(TimestampMixin, db.Model):
    __table_args__ = (
        Index("ix_address_community_level", "community_id", "level"),
        # Address lists and searches in full-text order (a community's, a station's).
        Index("ix_address_community_text", "community_id", "full_text"),
        Index("ix_address_station_text", "station_id", "full_text"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("address.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))  # indexed by ix_address_community_level
    police_area_id: Mapped[int] = mapped_column(ForeignKey("police_area.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    road: Mapped[str | None] = mapped_column(String(64))
    number: Mapped[str | None] = mapped_column(String(32))
    building: Mapped[str | None] = mapped_column(String(32))
    unit: Mapped[str | None] = mapped_column(String(32))
    floor: Mapped[str | None] = mapped_column(String(16))
    room: Mapped[str | None] = mapped_column(String(32))
    full_text: Mapped[str] = mapped_column(String(255))
    aliases: Mapped[list | None] = mapped_column(JSONText)
    lat: Mapped[float | None] = mapped_column(Double)
    lng: Mapped[float | None] = mapped_column(Double)
    is_residential: Mapped[bool] = mapped_column(default=True)
    qr_token: Mapped[str] = mapped_column(String(32), unique=True, default=new_qr_token)
    plate_issued_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="active")

    parent: Mapped["Address | None"] = relationship(remote_side="Address.id")
    community: Mapped["Community"] = relationship()  # noqa: F821
