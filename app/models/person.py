"""Persons (实有人口) with encrypted document and phone, and their residences (居住/承租)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import CollectedMixin, TimestampMixin, utcnow

RESIDENCE_STATUSES = ("pending", "active", "ended")
DECLARED_BY = ("landlord", "tenant", "employer", "officer", "import")
# The facts about a person that declarations may propose (and never overwrite on their own).
CHANGEABLE_FIELDS = ("name", "phone", "nationality")
CHANGE_FIELD_LABELS = {"name": "姓名", "phone": "手机号码", "nationality": "国籍"}
CHANGE_STATUSES = ("proposed", "applied", "discarded")


class Person(TimestampMixin, CollectedMixin, db.Model):
    __table_args__ = (
        UniqueConstraint("document_type", "document_blind_index"),
        Index("ix_person_phone_blind_index", "phone_blind_index"),
        Index("ix_person_name", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_type: Mapped[str] = mapped_column(String(16))
    # "kid:base64(nonce|ciphertext)"; see app.crypto. Never logged, never in URLs.
    document_number_enc: Mapped[str] = mapped_column(Text)
    document_blind_index: Mapped[str] = mapped_column(String(64))
    document_masked: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    sex: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[date | None] = mapped_column(Date)
    household_region_code: Mapped[str | None] = mapped_column(String(6))
    nationality: Mapped[str] = mapped_column(String(3), default="CHN")
    phone_enc: Mapped[str | None] = mapped_column(Text)
    phone_blind_index: Mapped[str | None] = mapped_column(String(64))
    phone_masked: Mapped[str | None] = mapped_column(String(16))
    # 流动人口: 户籍 outside the branch's district (or not a mainland resident).
    is_floating: Mapped[bool] = mapped_column(default=True)

    residences: Mapped[list["Residence"]] = relationship(back_populates="person")


class Residence(TimestampMixin, CollectedMixin, db.Model):
    __table_args__ = (
        # active_slot is 1 while pending/active and NULL once ended: NULLs never collide,
        # so this is "one live residence per person per house" on SQLite and MariaDB alike.
        UniqueConstraint("person_id", "house_id", "active_slot"),
        Index("ix_residence_house_status", "house_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    house_id: Mapped[int] = mapped_column(ForeignKey("house.id"))
    room: Mapped[str | None] = mapped_column(String(32))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    declared_by: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16), default="wechat_h5")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # 1 while live, NULL once ended. No column default: the ORM would put it in place of an
    # explicit None.
    active_slot: Mapped[int | None] = mapped_column()
    relation_to_landlord: Mapped[str | None] = mapped_column(String(32))
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declaration.id"), index=True)
    # The name the declarer gave: what the landlord sees, so typing a number never reveals the
    # name on record for it (DESIGN §8: a number proves nothing).
    declared_name: Mapped[str | None] = mapped_column(String(64))

    person: Mapped[Person] = relationship(back_populates="residences")
    house: Mapped["House"] = relationship()  # noqa: F821

    @property
    def shown_name(self) -> str:
        """The tenant's name as the declarer gave it (older rows: the name on record)."""
        return self.declared_name or self.person.name

    def end(self, end_date: date) -> None:
        """Close the residence and free its slot for a later move-in."""
        self.end_date = end_date
        self.status = "ended"
        self.active_slot = None


class PersonChange(db.Model):
    """A proposed change to a person's name, phone or nationality, and, once applied, its history.

    A declaration naming an existing person proposes; the change is applied when the declaration
    is verified or approved (old value captured then) and discarded when it is rejected. Phones
    appear here masked only; the proposed number itself is kept encrypted until applied.
    """

    __tablename__ = "person_change"
    __table_args__ = (Index("ix_person_change_person_status", "person_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    field: Mapped[str] = mapped_column(String(16))
    old_value: Mapped[str | None] = mapped_column(String(64))
    new_value: Mapped[str] = mapped_column(String(64))
    new_value_enc: Mapped[str | None] = mapped_column(Text)  # the phone, encrypted (app.crypto)
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declaration.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    # "worker" (verified), "officer:<id>" (approved), "real_name" (实名核验)
    applied_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime)

    person: Mapped[Person] = relationship()
