"""Answers to officer API writes, kept per officer and Idempotency-Key (a retry gets the same)."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import JSONText, TimestampMixin


class IdempotentRequest(TimestampMixin, db.Model):
    __tablename__ = "officer_idempotent_request"
    __table_args__ = (UniqueConstraint("officer_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"))
    key: Mapped[str] = mapped_column(String(64))
    # sha256 of method, path and body: the same key sent with another request is refused
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict] = mapped_column(JSONText)
