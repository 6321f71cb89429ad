"""Tenants declaring themselves (自主申报) at a scanned house, the landlord's confirmation or denial,
the escalation of unconfirmed ones, and the 居住证 dates."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from app.extensions import db
from app.models import Declaration, House, utcnow
from app.outbox import jobs
from app.services.declarations.declare import Submitter, find_by_idempotency_key
from app.services.declarations.rentals import declare_move_in
from app.services.declarations.validation import activate_proposed_rows, withdraw_proposed_rows
from app.services.errors import RuleError
from app.services.people import people


def declare_self(submitter: Submitter, house: House, me: dict, *,
                 idempotency_key: str | None = None, today: date | None = None,
                 now: datetime | None = None) -> Declaration:
    """A tenant declares themself at the scanned house; it stays pending until the landlord
    (or an officer) confirms, and the landlord is told at once."""
    existing = find_by_idempotency_key(submitter, idempotency_key)
    if existing:
        return existing
    declaration = declare_move_in(submitter, house, [me], idempotency_key=idempotency_key,
                                  today=today, now=now)
    if declaration.kind == "move_in" and declaration.submitter_role == "tenant":
        declaration.kind = "self"
        declaration.landlord_confirmation = "pending"
        db.session.flush()
        _enqueue_landlord_notice(declaration)
    return declaration


def _enqueue_landlord_notice(declaration: Declaration) -> None:
    jobs.after_commit("workers.jobs.notify_landlord_of_self_declaration", declaration.id)


def confirm_declaration(declaration: Declaration, confirmer: Submitter) -> Declaration:
    """The other party confirms: the landlord a tenant's self-declaration (which then becomes
    active if its checks passed), or the tenant the landlord's; recorded in the history."""
    if declaration.kind not in ("move_in", "self"):
        raise RuleError("declaration", "该申报无需确认")
    if confirmer.role == "landlord":
        if declaration.kind != "self":
            raise RuleError("declaration", "该申报无需房东确认")
        if declaration.landlord_confirmation == "denied" or declaration.status == "rejected":
            raise RuleError("declaration", "该申报已被拒绝或退回，不能再确认")
        declaration.landlord_confirmation = "confirmed"
        declaration.landlord_answered_at = utcnow()
    note = "房东已确认" if confirmer.role == "landlord" else "租客已确认"
    declaration.transition(declaration.status, confirmer.actor, note)
    payload = dict(declaration.payload)
    payload.setdefault("confirmed_by", []).append(confirmer.role)
    declaration.payload = payload
    if confirmer.role == "landlord" and declaration.status == "verified":
        activate_proposed_rows(declaration)
        people.apply_proposals(declaration.id, confirmer.actor)
    db.session.flush()
    return declaration


MAX_DENY_REASON = 200


def deny_self_declaration(declaration: Declaration, confirmer: Submitter,
                          reason: str) -> Declaration:
    """The landlord says this person does not live here: the declaration ends, with the reason
    shown to the tenant, and its residence is withdrawn."""
    if declaration.kind != "self":
        raise RuleError("declaration", "该申报无需房东确认")
    reason = (reason or "").strip()
    if not reason:
        raise RuleError("reason", "请填写不予确认的原因，租客会看到这条原因")
    if len(reason) > MAX_DENY_REASON:
        raise RuleError("reason", f"原因不能超过 {MAX_DENY_REASON} 字")
    if declaration.status in ("approved", "rejected") or declaration.landlord_confirmation in (
            "confirmed", "denied"):
        raise RuleError("declaration", "该申报已处理，不能再拒绝")

    declaration.landlord_confirmation = "denied"
    declaration.landlord_answered_at = utcnow()
    declaration.decision_reason = f"房东未确认：{reason}"
    declaration.transition("rejected", confirmer.actor, declaration.decision_reason)
    withdraw_proposed_rows(declaration)
    people.discard_proposals(declaration.id)
    db.session.flush()
    jobs.after_commit("workers.jobs.notify_declaration_status", declaration.id, "rejected")
    return declaration


def overdue_self_declarations(submitted_before: datetime, limit: int = 1000) -> list[int]:
    """Ids of self-declarations still waiting for the landlord, submitted before the cutoff."""
    return list(db.session.execute(select(Declaration.id).where(
        Declaration.kind == "self", Declaration.landlord_confirmation == "pending",
        Declaration.status.in_(("verified", "needs_review")),
        Declaration.created_at <= submitted_before).order_by(Declaration.id).limit(limit)
    ).scalars())


def escalate_unconfirmed(declaration: Declaration) -> bool:
    """A self-declaration the landlord left unanswered goes to the area officer; False if not due."""
    if declaration.kind != "self" or declaration.landlord_confirmation != "pending":
        return False
    if declaration.status not in ("verified", "needs_review"):
        return False  # not validated yet (the sweeper sees to it), or already decided
    reason = {"field": "landlord", "message": "房东未在规定时间内确认"}
    declaration.landlord_confirmation = "escalated"
    reasons = list(declaration.reasons or [])
    if reason not in reasons:
        reasons.append(reason)
    declaration.reasons = reasons
    declaration.transition("needs_review", "system", reason["message"])
    db.session.flush()
    return True
