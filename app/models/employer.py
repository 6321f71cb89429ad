"""Employers (实有单位/用工单位) and the employment of persons."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import CollectedMixin, TimestampMixin


class Employer(TimestampMixin, CollectedMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)  # 统一社会信用代码
    address_id: Mapped[int | None] = mapped_column(ForeignKey("address.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    police_area_id: Mapped[int] = mapped_column(ForeignKey("police_area.id"), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(64))
    contact_phone_enc: Mapped[str | None] = mapped_column(Text)
    contact_phone_blind_index: Mapped[str | None] = mapped_column(String(64), index=True)
    contact_phone_masked: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")

    address: Mapped["Address | None"] = relationship()  # noqa: F821


class Employment(TimestampMixin, CollectedMixin, db.Model):
    __table_args__ = (
        UniqueConstraint("person_id", "employer_id", "active_slot"),
        Index("ix_employment_employer_status", "employer_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    employer_id: Mapped[int] = mapped_column(ForeignKey("employer.id"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    job: Mapped[str | None] = mapped_column(String(64))
    dormitory_house_id: Mapped[int | None] = mapped_column(ForeignKey("house.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # 1 while live, NULL once ended. No column default: the ORM would put it in place of an
    # explicit None.
    active_slot: Mapped[int | None] = mapped_column()
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declaration.id"), index=True)
    # The name the employer gave: what the employer sees (see Residence.declared_name).
    declared_name: Mapped[str | None] = mapped_column(String(64))

    person: Mapped["Person"] = relationship()  # noqa: F821
    employer: Mapped[Employer] = relationship()
    dormitory_house: Mapped["House | None"] = relationship()  # noqa: F821

    @property
    def shown_name(self) -> str:
        """The worker's name as the employer gave it (older rows: the name on record)."""
        return self.declared_name or self.person.name
