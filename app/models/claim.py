"""Ownership claims (申请变更房主 / 申请认领单位): a second registration of a house or an employer.

A door plate's token and a licence's USCC are public, so registering an existing house or
employer again never changes it: it files a claim that the area officer decides.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import JSONText, TimestampMixin

CLAIM_SUBJECTS = ("house", "employer")
CLAIM_SUBJECT_LABELS = {"house": "申请变更房主", "employer": "申请认领单位"}
CLAIM_STATUSES = ("pending", "approved", "refused", "withdrawn")
CLAIM_STATUS_LABELS = {"pending": "待民警核实", "approved": "已通过", "refused": "未通过",
                       "withdrawn": "已撤回"}


class OwnershipClaim(TimestampMixin, db.Model):
    __tablename__ = "ownership_claim"
    __table_args__ = (
        # pending_slot is 1 while pending and NULL once decided: one open claim per claimant
        # and subject (NULLs never collide, on SQLite and MariaDB alike).
        UniqueConstraint("subject_type", "subject_id", "claimant_wechat_user_id", "pending_slot",
                         name="uq_ownership_claim_one_pending"),
        UniqueConstraint("claimant_wechat_user_id", "idempotency_key"),
        Index("ix_ownership_claim_subject", "subject_type", "subject_id"),
        Index("ix_ownership_claim_station_status", "station_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(16))  # house / employer
    subject_id: Mapped[int] = mapped_column()
    claimant_wechat_user_id: Mapped[int] = mapped_column(ForeignKey("wechat_user.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="wechat_h5")
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    # Who held the subject when the claim was filed (house owner / linked WeChat users).
    previous_owner_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"),
                                                                 index=True)
    previous_wechat_user_ids: Mapped[list | None] = mapped_column(JSONText)
    # What the claimant proposes: persons by id (their numbers live encrypted on Person), the
    # other facts as submitted; an employer's contact phone only encrypted and masked.
    proposed_owner_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"),
                                                                 index=True)
    proposed_agent_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"),
                                                                 index=True)
    proposal: Mapped[dict] = mapped_column(JSONText)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    pending_slot: Mapped[int | None] = mapped_column()
    decided_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), index=True)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    police_area_id: Mapped[int] = mapped_column(ForeignKey("police_area.id"), index=True)

    claimant: Mapped["WeChatUser"] = relationship()  # noqa: F821
    proposed_owner: Mapped["Person | None"] = relationship(  # noqa: F821
        foreign_keys=[proposed_owner_person_id])
    proposed_agent: Mapped["Person | None"] = relationship(  # noqa: F821
        foreign_keys=[proposed_agent_person_id])
    previous_owner: Mapped["Person | None"] = relationship(  # noqa: F821
        foreign_keys=[previous_owner_person_id])
    decided_by: Mapped["Officer | None"] = relationship()  # noqa: F821

    @property
    def subject_label(self) -> str:
        return CLAIM_SUBJECT_LABELS.get(self.subject_type, self.subject_type)

    @property
    def status_label(self) -> str:
        return CLAIM_STATUS_LABELS.get(self.status, self.status)
