"""Officers' decisions on declarations: approve, flag for a field check, reject, fix the address.

Each decision is a transition in the declaration's history, an audit row, and a push to the
submitter (promised in the outbox, enqueued after commit). The caller has already loaded the declaration through the
scoping layer and commits once.
"""
from __future__ import annotations

from sqlalchemy import or_, select

from app.extensions import db
from app.models import Address, Declaration, Officer, utcnow
from app.outbox import jobs
from app.services.accounts import audit, scoping
from app.services.people import people
from app.services.declarations.validation import activate_proposed_rows, withdraw_proposed_rows

# Which statuses an officer may decide from: automatic results and earlier field-check flags.
DECIDABLE = {
    "approved": ("verified", "needs_review", "flagged"),
    "flagged": ("verified", "needs_review"),
    "rejected": ("verified", "needs_review", "flagged"),
}
ACTION_NAMES = {"approved": "declaration.approve", "flagged": "declaration.flag",
                "rejected": "declaration.reject"}
MAX_REASON = 500


class ReviewError(ValueError):
    """A decision that cannot be taken; the message is shown to the officer in Chinese."""


def _notify(declaration: Declaration) -> None:
    jobs.after_commit("workers.jobs.notify_declaration_status", declaration.id,
                      declaration.status)


def decide(declaration: Declaration, officer: Officer, to_status: str,
           reason: str | None = None, ip: str | None = None) -> Declaration:
    """Record an officer's decision, audit it and queue the push to the submitter."""
    if to_status not in DECIDABLE:
        raise ReviewError("未知的审核操作")
    if declaration.status not in DECIDABLE[to_status]:
        raise ReviewError("该申报当前状态不能执行此操作")
    reason = (reason or "").strip() or None
    if to_status == "rejected" and not reason:
        raise ReviewError("退回申报必须填写原因，申报人会看到这条原因")
    if reason and len(reason) > MAX_REASON:
        raise ReviewError(f"原因不能超过 {MAX_REASON} 字")
    from_status = declaration.status
    declaration.transition(to_status, actor=f"officer:{officer.id}", note=reason)
    declaration.decision_reason = reason
    declaration.decided_by_officer_id = officer.id
    declaration.decided_at = utcnow()
    # The residences/employments the declaration proposed follow the decision.
    # So do the changes it proposed to persons' names, phones and nationalities.
    if to_status == "approved":
        activate_proposed_rows(declaration)
        people.apply_proposals(declaration.id, f"officer:{officer.id}")
    elif to_status == "rejected":
        withdraw_proposed_rows(declaration)
        people.discard_proposals(declaration.id)
    db.session.flush()
    audit.record(officer, ACTION_NAMES[to_status], "declaration", declaration.id, reason=reason,
                 ip=ip, detail={"from": from_status, "to": to_status})
    _notify(declaration)
    return declaration


def approve(declaration: Declaration, officer: Officer, note: str | None = None,
            ip: str | None = None) -> Declaration:
    """Approve a declaration."""
    return decide(declaration, officer, "approved", note, ip)


def flag(declaration: Declaration, officer: Officer, note: str | None = None,
         ip: str | None = None) -> Declaration:
    """Flag a declaration for a field check (上门核查)."""
    return decide(declaration, officer, "flagged", note, ip)


def reject(declaration: Declaration, officer: Officer, reason: str,
           ip: str | None = None) -> Declaration:
    """Reject a declaration with a reason the submitter will see."""
    return decide(declaration, officer, "rejected", reason, ip)


def bulk_approvable(declaration: Declaration) -> bool:
    """Whether a declaration may be approved in bulk: verified, with no reason to look at."""
    return declaration.status == "verified" and not declaration.reasons


def bulk_approve(declaration_ids, officer: Officer, ip: str | None = None) -> list[int]:
    """Approve those of the given declarations that are in the area, `verified` and without
    reasons; skip the rest, which need an officer's look one by one."""
    ids = scoping.scoped_ids(Declaration, declaration_ids, officer)
    if not ids:
        return []
    stmt = scoping.scope_declarations(
        select(Declaration).where(Declaration.id.in_(ids), Declaration.status == "verified",
                                  or_(Declaration.reasons.is_(None), Declaration.reasons == []))
        .order_by(Declaration.id).with_for_update(), officer)
    approved = []
    for declaration in db.session.execute(stmt).scalars():
        if not bulk_approvable(declaration):
            continue
        decide(declaration, officer, "approved", None, ip)
        approved.append(declaration.id)
    if approved:
        audit.record(officer, "declaration.bulk_approve", "declaration", None, ip=ip,
                     detail={"ids": approved})
    return approved


def choose_address(declaration: Declaration, address: Address, officer: Officer,
                   ip: str | None = None) -> Declaration:
    """Fix the declaration's address to one of its candidates (the address is already scoped)."""
    candidate_ids = {c.get("address_id") for c in (declaration.candidates or [])
                     if isinstance(c, dict)}
    if address.id not in candidate_ids:
        raise ReviewError("只能从候选地址中选择")
    if declaration.status not in ("received", "validating", "verified", "needs_review", "flagged"):
        raise ReviewError("该申报已审核完毕，不能再更改地址")
    previous = declaration.address_id
    declaration.address_id = address.id
    declaration.station_id = address.station_id
    declaration.police_area_id = address.police_area_id
    db.session.flush()
    audit.record(officer, "declaration.choose_address", "declaration", declaration.id, ip=ip,
                 detail={"from_address_id": previous, "to_address_id": address.id})
    return declaration
