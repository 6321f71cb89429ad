"""Police officers who use the console, with role and area."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TimestampMixin

OFFICER_ROLES = ("officer", "station_admin", "branch_admin", "system_admin")
ROLE_LABELS = {
    "officer": "民警",
    "station_admin": "派出所管理员",
    "branch_admin": "分局管理员",
    "system_admin": "系统管理员",
}


class Officer(TimestampMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(64))
    badge_number: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="officer")
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"), index=True)
    police_area_id: Mapped[int | None] = mapped_column(ForeignKey("police_area.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Named in every console session cookie; raising it (sign-out, password change) ends them all.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    station: Mapped["Station | None"] = relationship()  # noqa: F821
    police_area: Mapped["PoliceArea | None"] = relationship()  # noqa: F821
