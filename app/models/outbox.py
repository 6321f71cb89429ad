"""The outbox: work a commit promises (a job to run after it), recorded in the same transaction."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import JSONText, utcnow


class OutboxJob(db.Model):
    """One promised job: the relay enqueues it after commit, the job marks it done (STYLE §19)."""

    __tablename__ = "outbox_job"
    __table_args__ = (
        # The relay's two questions: "not yet enqueued" and "enqueued long ago, still not done".
        Index("ix_outbox_job_open", "done_at", "enqueued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Dotted path of the job function ("workers.jobs.validate_declaration"): a name, not an import.
    job: Mapped[str] = mapped_column(String(128))
    args: Mapped[list] = mapped_column(JSONText)
    queue: Mapped[str] = mapped_column(String(16), default="default")
    # The same intent is recorded once however often it is promised (job and arguments by default).
    dedupe_key: Mapped[str] = mapped_column(String(191), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # times handed to the queue
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
