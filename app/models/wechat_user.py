"""WeChat users (official account openid, mini-program openid) and their profiles."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TimestampMixin


class WeChatUser(TimestampMixin, db.Model):
    __tablename__ = "wechat_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    # official_account / miniapp / sandbox
    source: Mapped[str] = mapped_column(String(16), default="official_account")
    nickname: Mapped[str | None] = mapped_column(String(64))
    subscribed: Mapped[bool] = mapped_column(default=False)
    subscribed_at: Mapped[datetime | None] = mapped_column(DateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set when a push fails with 43004/43101: the user cannot be reached by push.
    unreachable_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Profiles: who this user is in the domain (landlord/tenant are persons; employer is a unit).
    # Set only by proof (DESIGN §8): a real-name check or an officer; never by a typed number.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    person_link_method: Mapped[str | None] = mapped_column(String(16))  # real_name / officer
    person_linked_at: Mapped[datetime | None] = mapped_column(DateTime)
    person_linked_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"))
    # A short code the user shows an officer at the station so the officer can link them.
    link_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    link_code_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employer.id"), index=True)

    person: Mapped["Person | None"] = relationship()  # noqa: F821
    employer: Mapped["Employer | None"] = relationship(foreign_keys=[employer_id])  # noqa: F821
