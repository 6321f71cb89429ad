"""Shared column types and mixins for every aggregate."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import DateTime, Double, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Naive UTC 'now': every timestamp in the database is UTC without tzinfo."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class JSONText(TypeDecorator):
    """JSON stored as TEXT: identical on SQLite and MariaDB, so autogenerate sees no drift."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class CollectedMixin:
    """Who collected this record, when, where and through which channel (DESIGN §3)."""

    collected_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    # landlord / tenant / employer / officer / import / demo / system
    collected_by_type: Mapped[str] = mapped_column(String(16), default="system", nullable=False)
    collected_by_id: Mapped[int | None] = mapped_column(nullable=True)
    # wechat_h5 / miniapp / console / field / import / demo
    collected_channel: Mapped[str] = mapped_column(String(16), default="system", nullable=False)
    collected_lat: Mapped[float | None] = mapped_column(Double, nullable=True)
    collected_lng: Mapped[float | None] = mapped_column(Double, nullable=True)
