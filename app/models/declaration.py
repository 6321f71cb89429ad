"""Declarations (申报): one submission, its lifecycle and history (DESIGN §3)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import JSONText, TimestampMixin, utcnow

DECLARATION_KINDS = (
    "house", "move_in", "move_out", "employer", "hire", "leave", "self", "correction",
)
KIND_LABELS = {
    "house": "房屋登记", "move_in": "租客入住", "move_out": "租客退租", "employer": "单位登记",
    "hire": "员工入职", "leave": "员工离职", "self": "租客自主申报", "correction": "更正",
}
DECLARATION_STATUSES = (
    "received",
    "validating",
    "verified",
    "needs_review",
    "approved",
    "flagged",
    "rejected",
)
STATUS_LABELS = {
    "received": "已受理",
    "validating": "核验中",
    "verified": "核验通过",
    "needs_review": "待民警审核",
    "approved": "已通过",
    "flagged": "待实地核查",
    "rejected": "已退回",
}


class Declaration(TimestampMixin, db.Model):
    __table_args__ = (
        UniqueConstraint("submitter_wechat_user_id", "idempotency_key"),
        Index("ix_declaration_status_updated", "status", "updated_at"),
        # The review queue reads these in order (app/services/declarations/queue.py).
        Index("ix_declaration_station_status_created", "station_id", "status", "created_at"),
        Index("ix_declaration_status_created", "status", "created_at"),
        Index("ix_declaration_station_kind_status", "station_id", "kind", "status", "created_at"),
        Index("ix_declaration_station_late_status", "station_id", "is_late", "status",
              "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="received")
    # landlord / tenant / employer / officer / import
    submitter_role: Mapped[str] = mapped_column(String(16))
    submitter_wechat_user_id: Mapped[int | None] = mapped_column(ForeignKey("wechat_user.id"))
    submitter_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="wechat_h5")
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    receipt_code: Mapped[str] = mapped_column(String(16), unique=True)
    payload: Mapped[dict] = mapped_column(JSONText)
    # [{"field": ..., "message": ...}] in Chinese; what the officer (and, unless silent, the
    # submitter) sees.
    reasons: Mapped[list | None] = mapped_column(JSONText)
    # Address candidates from fuzzy matching: [{"address_id", "full_text", "score"}].
    candidates: Mapped[list | None] = mapped_column(JSONText)
    address_id: Mapped[int | None] = mapped_column(ForeignKey("address.id"), index=True)
    house_id: Mapped[int | None] = mapped_column(ForeignKey("house.id"), index=True)
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employer.id"), index=True)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("declaration.id"), index=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"))
    police_area_id: Mapped[int | None] = mapped_column(ForeignKey("police_area.id"), index=True)
    is_late: Mapped[bool] = mapped_column(default=False)
    late_hours: Mapped[int | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by_officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officer.id"), index=True
    )
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Self-declarations only: pending → confirmed | denied (by the landlord) | escalated (timeout).
    landlord_confirmation: Mapped[str | None] = mapped_column(String(16), index=True)
    landlord_answered_at: Mapped[datetime | None] = mapped_column(DateTime)

    house: Mapped["House | None"] = relationship()  # noqa: F821
    address: Mapped["Address | None"] = relationship()  # noqa: F821
    employer: Mapped["Employer | None"] = relationship()  # noqa: F821
    events: Mapped[list["DeclarationEvent"]] = relationship(
        back_populates="declaration", order_by="DeclarationEvent.id"
    )

    def transition(self, to_status: str, actor: str, note: str | None = None) -> "DeclarationEvent":
        """Move to a new status and record the step in the history."""
        event = DeclarationEvent(
            from_status=self.status, to_status=to_status, actor=actor, note=note
        )
        self.status = to_status
        self.events.append(event)
        return event


class DeclarationEvent(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declaration.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    # "system", "worker", "officer:<id>", "landlord:<wechat_user_id>", ...
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    declaration: Mapped[Declaration] = relationship(back_populates="events")
