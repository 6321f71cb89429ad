"""Ownership claims (DESIGN §8): a registered house or employer changes hands only by decision.

A door plate's token and a licence's USCC are public, so knowing one proves nothing. Registering
an existing house (by someone who neither owns it nor is its agent) or an existing employer (by
someone not linked to it) files an OwnershipClaim instead: the current holder is told by push,
the area officer approves or refuses, and only an approval moves the house or employer. Until
then the claimant sees nothing of it. The caller loads claims through the scoping layer and
commits once.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from app import crypto
from app.extensions import db
from app.identity import check_mobile
from app.models import (
    Address, Employer, House, OwnershipClaim, Person, Residence, WeChatUser, utcnow,
)
from app.models.claim import CLAIM_STATUS_LABELS
from app.outbox import jobs
from app.services.accounts import audit, scoping
from app.services.declarations.ownership import NotYours, is_owner, owns
from app.services.errors import RuleError
from app.services.reminders.notifications import send_push

HOUSE_CLAIM_FILED = "该地址已有房屋登记，已提交房主变更申请，待社区民警核实"
EMPLOYER_CLAIM_FILED = "该统一社会信用代码已有单位登记，已提交单位认领申请，待社区民警核实"
MAX_REASON = 500


class ClaimError(ValueError):
    """A decision that cannot be taken; the message is shown to the officer in Chinese."""


def receipt_message(claim: OwnershipClaim) -> str:
    """What the claimant is told while the claim waits (and after, with its outcome)."""
    if claim.status == "pending":
        return HOUSE_CLAIM_FILED if claim.subject_type == "house" else EMPLOYER_CLAIM_FILED
    if claim.status == "approved":
        return "申请已通过，您现在可以管理" + ("该房屋" if claim.subject_type == "house" else "该单位")
    if claim.status == "refused":
        return "申请未通过" + (f"：{claim.decision_reason}" if claim.decision_reason else "")
    return CLAIM_STATUS_LABELS.get(claim.status, claim.status)


def typed_facts(person: dict) -> dict:
    """Name and phone as the claimant typed them (the phone only encrypted and masked): shown to
    the officer, and applied to the person only if the claim is approved."""
    facts = {"name": (person.get("name") or "").strip()}
    if person.get("phone"):
        enc, _blind, masked = crypto.protect_phone(check_mobile(person["phone"]))
        facts.update(phone_enc=enc, phone_masked=masked)
    return facts


def _apply_typed(person: Person | None, typed: dict | None) -> None:
    if person is None or not typed:
        return
    if typed.get("name"):
        person.name = typed["name"]
    if typed.get("phone_enc"):
        person.phone_enc, person.phone_blind_index, person.phone_masked = crypto.protect_phone(
            crypto.decrypt(typed["phone_enc"]))


def find_by_idempotency_key(wechat_user_id: int | None, key: str | None) -> OwnershipClaim | None:
    """The claim this WeChat user already filed with this key: same key, same answer."""
    if not key or wechat_user_id is None:
        return None
    return db.session.execute(select(OwnershipClaim).where(
        OwnershipClaim.claimant_wechat_user_id == wechat_user_id,
        OwnershipClaim.idempotency_key == key)).scalar_one_or_none()


def my_claim(user: WeChatUser, claim_id: int) -> OwnershipClaim:
    """A claim the user filed; anyone else's is NotYours (404)."""
    claim = db.session.get(OwnershipClaim, claim_id)
    if claim is None or claim.claimant_wechat_user_id != user.id:
        raise NotYours()
    return claim


# -- who may change what ------------------------------------------------------------------------

def house_is_registered(house: House) -> bool:
    """A house is registered once it has an owner or anyone ever lived there (a bare dormitory
    row created by an employer's hire is not)."""
    if house.owner_person_id is not None or house.owner_wechat_user_id is not None:
        return True
    return db.session.execute(
        select(Residence.id).where(Residence.house_id == house.id).limit(1)).first() is not None


def may_update_house(wechat_user_id: int | None, house: House, *,
                     owner_changes: bool = False) -> bool:
    """Officers and imports (no WeChat user) and the owner may update the house; its agent too,
    except to name another owner, which is a change of owner and so a claim."""
    if wechat_user_id is None or not house_is_registered(house):
        return True
    user = db.session.get(WeChatUser, wechat_user_id)
    if user is None or not owns(user, house):
        return False
    return is_owner(user, house) or not owner_changes


def may_update_employer(wechat_user_id: int | None, employer: Employer) -> bool:
    """Officers and imports, and the WeChat user linked to the employer, may update it."""
    if wechat_user_id is None:
        return True
    user = db.session.get(WeChatUser, wechat_user_id)
    return user is not None and user.employer_id == employer.id


def pending_count(subject_type: str, subject_id: int) -> int:
    """How many claims on this house or employer wait for an officer (the holder is shown it)."""
    return db.session.execute(select(func.count()).select_from(OwnershipClaim).where(
        OwnershipClaim.subject_type == subject_type, OwnershipClaim.subject_id == subject_id,
        OwnershipClaim.status == "pending")).scalar_one()


# -- filing ---------------------------------------------------------------------------------------

def _open_claim(subject_type: str, subject_id: int, claimant_id: int) -> OwnershipClaim | None:
    return db.session.execute(select(OwnershipClaim).where(
        OwnershipClaim.subject_type == subject_type, OwnershipClaim.subject_id == subject_id,
        OwnershipClaim.claimant_wechat_user_id == claimant_id,
        OwnershipClaim.pending_slot.is_not(None))).scalar_one_or_none()


def _file(subject_type: str, subject, claimant_id: int, *, channel: str, ip: str | None,
          idempotency_key: str | None, previous_person_id: int | None,
          previous_user_ids: list[int], owner: Person | None, agent: Person | None,
          proposal: dict) -> OwnershipClaim:
    claim = _open_claim(subject_type, subject.id, claimant_id)
    if claim is not None:
        # Submitting again while a claim waits corrects it; the holder was already told.
        claim.proposed_owner_person_id = owner.id if owner else None
        claim.proposed_agent_person_id = agent.id if agent else None
        claim.proposal = proposal
        db.session.flush()
        return claim
    claim = OwnershipClaim(
        subject_type=subject_type, subject_id=subject.id, claimant_wechat_user_id=claimant_id,
        channel=channel, idempotency_key=idempotency_key, status="pending", pending_slot=1,
        previous_owner_person_id=previous_person_id, previous_wechat_user_ids=previous_user_ids,
        proposed_owner_person_id=owner.id if owner else None,
        proposed_agent_person_id=agent.id if agent else None, proposal=proposal,
        station_id=subject.station_id, police_area_id=subject.police_area_id)
    db.session.add(claim)
    db.session.flush()
    audit.record(db.session.get(WeChatUser, claimant_id), f"claim.file_{subject_type}",
                 "ownership_claim", claim.id, ip=ip,
                 detail={"subject_type": subject_type, "subject_id": subject.id})
    _enqueue_notice(claim.id, "filed")
    return claim


def file_house_claim(claimant_id: int, house: House, *, owner: Person, agent: Person | None,
                     facts: dict, channel: str, ip: str | None = None,
                     idempotency_key: str | None = None) -> OwnershipClaim:
    """File (or correct) the claimant's claim to become the owner of a registered house."""
    return _file("house", house, claimant_id, channel=channel, ip=ip,
                 idempotency_key=idempotency_key, previous_person_id=house.owner_person_id,
                 previous_user_ids=[house.owner_wechat_user_id] if house.owner_wechat_user_id
                 else [], owner=owner, agent=agent, proposal=facts)


def file_employer_claim(claimant_id: int, employer: Employer, *, name: str, address_id: int,
                        contact_name: str, contact_phone: str, channel: str,
                        ip: str | None = None,
                        idempotency_key: str | None = None) -> OwnershipClaim:
    """File (or correct) the claimant's claim to manage a registered employer."""
    enc, _blind, masked = crypto.protect_phone(contact_phone)
    linked = list(db.session.execute(select(WeChatUser.id).where(
        WeChatUser.employer_id == employer.id).order_by(WeChatUser.id)).scalars())
    proposal = {"name": name, "address_id": address_id, "contact_name": contact_name,
                "contact_phone_enc": enc, "contact_phone_masked": masked}
    return _file("employer", employer, claimant_id, channel=channel, ip=ip,
                 idempotency_key=idempotency_key, previous_person_id=None,
                 previous_user_ids=linked, owner=None, agent=None, proposal=proposal)


def withdraw(claim: OwnershipClaim, user: WeChatUser, ip: str | None = None) -> OwnershipClaim:
    """The claimant withdraws a claim that still waits; nothing changes."""
    if claim.claimant_wechat_user_id != user.id:
        raise NotYours()
    if claim.status != "pending":
        raise RuleError("claim", "该申请已处理，不能撤回")
    claim.status = "withdrawn"
    claim.pending_slot = None
    db.session.flush()
    audit.record(user, "claim.withdraw", "ownership_claim", claim.id, ip=ip)
    return claim


# -- the officer's decision -----------------------------------------------------------------------

def subject_of(claim: OwnershipClaim) -> House | Employer | None:
    """The house or employer the claim is about."""
    model = House if claim.subject_type == "house" else Employer
    return db.session.get(model, claim.subject_id)


def _approve_house(claim: OwnershipClaim, house: House) -> dict:
    before = {"owner_person_id": house.owner_person_id,
              "owner_wechat_user_id": house.owner_wechat_user_id,
              "agent_person_id": house.agent_person_id}
    facts = claim.proposal or {}
    house.owner_person_id = claim.proposed_owner_person_id
    house.owner_wechat_user_id = claim.claimant_wechat_user_id
    house.agent_person_id = claim.proposed_agent_person_id
    _apply_typed(claim.proposed_owner, facts.get("owner_as_typed"))
    _apply_typed(claim.proposed_agent, facts.get("agent_as_typed"))
    if "is_rental" in facts:
        house.is_rental = bool(facts["is_rental"])
        house.rental_type = facts.get("rental_type") if house.is_rental else None
    if facts.get("rooms"):
        house.rooms = int(facts["rooms"])
    for name in ("area_m2", "monthly_rent"):
        if name in facts:
            setattr(house, name, Decimal(facts[name]) if facts[name] is not None else None)
    # The pledge is the previous owner's promise; the new owner signs their own.
    house.pledge_version_id = house.pledge_signer_name = None
    house.pledge_signed_at = house.pledge_ip = None
    return before


def _approve_employer(claim: OwnershipClaim, employer: Employer) -> dict:
    facts = claim.proposal or {}
    linked = list(db.session.execute(select(WeChatUser).where(
        WeChatUser.employer_id == employer.id)).scalars())
    before = {"wechat_user_ids": [u.id for u in linked], "name": employer.name}
    for user in linked:
        user.employer_id = None
    claimant = db.session.get(WeChatUser, claim.claimant_wechat_user_id)
    claimant.employer_id = employer.id
    employer.name = facts.get("name") or employer.name
    address = db.session.get(Address, facts["address_id"]) if facts.get("address_id") else None
    if address is not None:
        employer.address_id = address.id
        employer.station_id = address.station_id
        employer.police_area_id = address.police_area_id
    employer.contact_name = facts.get("contact_name") or employer.contact_name
    if facts.get("contact_phone_enc"):
        phone = crypto.decrypt(facts["contact_phone_enc"])
        (employer.contact_phone_enc, employer.contact_phone_blind_index,
         employer.contact_phone_masked) = crypto.protect_phone(phone)
    return before


def decide(claim: OwnershipClaim, officer, approve: bool, reason: str | None = None,
           ip: str | None = None) -> OwnershipClaim:
    """Approve (the subject moves to the claimant) or refuse (nothing changes, reason required);
    audited, and the claimant is told by push."""
    if claim.status != "pending":
        raise ClaimError("该申请已处理，不能再次审核")
    reason = (reason or "").strip() or None
    if not approve and not reason:
        raise ClaimError("不予通过必须填写原因，申请人会看到这条原因")
    if reason and len(reason) > MAX_REASON:
        raise ClaimError(f"原因不能超过 {MAX_REASON} 字")
    subject = subject_of(claim)
    if subject is None:
        raise ClaimError("申请对应的房屋或单位已不存在")
    before = None
    if approve:
        before = (_approve_house(claim, subject) if claim.subject_type == "house"
                  else _approve_employer(claim, subject))
    claim.status = "approved" if approve else "refused"
    claim.pending_slot = None
    claim.decision_reason = reason
    claim.decided_by_officer_id = officer.id
    claim.decided_at = utcnow()
    db.session.flush()
    audit.record(officer, "claim.approve" if approve else "claim.refuse", "ownership_claim",
                 claim.id, reason=reason, ip=ip,
                 detail={"subject_type": claim.subject_type, "subject_id": claim.subject_id,
                         "claimant_wechat_user_id": claim.claimant_wechat_user_id,
                         "before": before})
    _enqueue_notice(claim.id, claim.status)
    return claim


# -- pushes ---------------------------------------------------------------------------------------

def _enqueue_notice(claim_id: int, event: str) -> None:
    jobs.after_commit("workers.jobs.notify_claim", claim_id, event)


def _subject_text(claim: OwnershipClaim) -> str:
    subject = subject_of(claim)
    if isinstance(subject, House):
        return subject.address.full_text
    return subject.name if subject is not None else ""


def notify(claim_id: int, event: str) -> list:
    """Push what happened to a claim: the holder when it is filed (and when it is approved), the
    claimant when it is decided; at most once per claim, event and recipient."""
    claim = db.session.get(OwnershipClaim, claim_id)
    if claim is None:
        return []
    what = "房屋" if claim.subject_type == "house" else "单位"
    subject = subject_of(claim)
    holder_link = (f"/h5/houses/{claim.subject_id}" if claim.subject_type == "house"
                   else f"/h5/employers/{claim.subject_id}")
    results = []
    if event == "filed":
        for user_id in claim.previous_wechat_user_ids or []:
            results.append(send_push(
                user_id, title="有人申请变更您登记的" + what,
                lines=[("事项", claim.subject_label), (what, _subject_text(claim)),
                       ("办理", "待社区民警核实；如非您本人知情，请联系社区民警")],
                link=holder_link, dedupe_key=f"claim:{claim.id}:owner:{user_id}"))
    elif event in ("approved", "refused"):
        link = (holder_link if event == "approved" and subject is not None
                else f"/h5/claims/{claim.id}")
        results.append(send_push(
            claim.claimant_wechat_user_id, title=claim.subject_label + "办理结果",
            lines=[("事项", claim.subject_label), (what, _subject_text(claim)),
                   ("办理结果", receipt_message(claim))],
            link=link, dedupe_key=f"claim:{claim.id}:{event}"))
        if event == "approved":
            for user_id in claim.previous_wechat_user_ids or []:
                if user_id == claim.claimant_wechat_user_id:
                    continue
                results.append(send_push(
                    user_id, title=f"您登记的{what}已变更",
                    lines=[("事项", claim.subject_label), (what, _subject_text(claim)),
                           ("办理结果", "经社区民警核实，已变更给申请人；如有异议请联系社区民警")],
                    link=None, dedupe_key=f"claim:{claim.id}:transferred:{user_id}"))
    return results


CLAIMS_PER_PAGE = 50


def claims_page(officer, *, status: str, house_id: int | None,
                page: int) -> tuple[list[OwnershipClaim], bool]:
    """One page of the ownership claims in the officer's area (oldest first, by status and
    house), and whether there is a next page."""
    stmt = select(OwnershipClaim)
    if status in CLAIM_STATUS_LABELS:
        stmt = stmt.where(OwnershipClaim.status == status)
    if house_id is not None:
        stmt = stmt.where(OwnershipClaim.subject_type == "house",
                          OwnershipClaim.subject_id == house_id)
    rows = db.session.execute(scoping.scope_claims(stmt, officer).order_by(
        OwnershipClaim.created_at, OwnershipClaim.id)
        .limit(CLAIMS_PER_PAGE + 1).offset((page - 1) * CLAIMS_PER_PAGE)).scalars().all()
    return list(rows[:CLAIMS_PER_PAGE]), len(rows) > CLAIMS_PER_PAGE
