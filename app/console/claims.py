"""Ownership claims in the console: the area's list, one claim, and the officer's decision."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select

from app.console import bp
from app.console.auth import client_ip, current_officer
from app.console.forms import ClaimDecisionForm, page_number
from app.extensions import db
from app.models import Address, Employer, House, OwnershipClaim, WeChatUser
from app.models.claim import CLAIM_STATUS_LABELS, CLAIM_SUBJECT_LABELS
from app.services.declarations import claims
from app.services.accounts import scoping

@bp.get("/claims")
@login_required
def claims_list():
    """Ownership claims in the officer's area, pending first by default."""
    status, page = request.args.get("status", "pending"), page_number(request.args)
    house_id = request.args.get("house_id", "")
    rows, has_next = claims.claims_page(current_officer(), status=status, page=page,
                                        house_id=int(house_id) if house_id.isdigit() else None)
    return render_template("console/claims.html", rows=rows, status=status, page=page,
                           has_next=has_next, subjects={c.id: _subject_text(c) for c in rows},
                           STATUS=CLAIM_STATUS_LABELS, SUBJECTS=CLAIM_SUBJECT_LABELS)


def _subject_text(claim: OwnershipClaim) -> str:
    subject = claims.subject_of(claim)
    if isinstance(subject, House):
        return subject.address.full_text
    if isinstance(subject, Employer):
        return f"{subject.name}（{subject.uscc}）"
    return "（已不存在）"


def _render(claim: OwnershipClaim, form=None, error: str | None = None, status: int = 200):
    subject = claims.subject_of(claim)
    facts = claim.proposal or {}
    proposed_address = (db.session.get(Address, facts["address_id"])
                        if claim.subject_type == "employer" and facts.get("address_id") else None)
    linked = []
    if claim.previous_wechat_user_ids:
        linked = db.session.execute(select(WeChatUser).where(
            WeChatUser.id.in_(claim.previous_wechat_user_ids))).scalars().all()
    return render_template(
        "console/claim.html", claim=claim, subject=subject, facts=facts,
        proposed_address=proposed_address, previous_users=linked,
        claimant=db.session.get(WeChatUser, claim.claimant_wechat_user_id),
        form=form or ClaimDecisionForm(), error=error, STATUS=CLAIM_STATUS_LABELS,
        house_in_area=isinstance(subject, House) and bool(
            scoping.scoped_ids(House, [subject.id], current_officer()))), status


@bp.get("/claims/<int:claim_id>")
@login_required
def claim(claim_id: int):
    """One claim: the house or employer, who holds it, who claims it and what they propose."""
    return _render(scoping.scoped_get(OwnershipClaim, claim_id, current_officer()))


@bp.post("/claims/<int:claim_id>/decide")
@login_required
def decide_claim(claim_id: int):
    """Approve (ownership moves to the claimant) or refuse with a reason; audited and pushed."""
    officer = current_officer()
    found = scoping.scoped_get(OwnershipClaim, claim_id, officer, for_update=True)
    form = ClaimDecisionForm()
    if not form.validate_on_submit():
        return _render(found, form=form, status=400)
    try:
        claims.decide(found, officer, form.action.data == "approve", form.reason.data,
                      ip=client_ip())
    except claims.ClaimError as exc:
        db.session.rollback()
        found = scoping.scoped_get(OwnershipClaim, claim_id, officer)
        return _render(found, form=form, error=str(exc), status=400)
    db.session.commit()
    flash(f"申请 {found.id} {found.status_label}", "success")
    return redirect(url_for("console.claim", claim_id=found.id))
