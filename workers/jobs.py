"""Jobs: plain importable functions that take ids and plain values, idempotent."""
from __future__ import annotations


def notify_declaration_status(declaration_id: int, status: str) -> None:
    """Push the submitter a message about the declaration's new status, once per change."""
    from app.services.notifications import notify_declaration_status as notify

    notify(declaration_id, status)
