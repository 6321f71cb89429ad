"""Append-only audit trail: who did what to which object, why, and from where."""
from __future__ import annotations

from app.extensions import db
from app.models import AuditLog, Officer, WeChatUser


def _actor_fields(actor) -> tuple[str, int | None, str | None]:
    if isinstance(actor, Officer):
        return "officer", actor.id, actor.name
    if isinstance(actor, WeChatUser):
        return "wechat_user", actor.id, None
    return "system", None, str(actor) if actor else None


def record(actor, action: str, object_type: str | None, object_id: int | None,
           reason: str | None = None, ip: str | None = None,
           detail: dict | None = None) -> AuditLog:
    """Append one audit row; the caller commits it with the action, so both or neither land."""
    actor_type, actor_id, actor_name = _actor_fields(actor)
    row = AuditLog(actor_type=actor_type, actor_id=actor_id, actor_name=actor_name,
                   action=action, object_type=object_type, object_id=object_id,
                   reason=(reason or None), ip=ip, detail=detail)
    db.session.add(row)
    db.session.flush()
    return row
