"""Who a WeChat user is: linked to a Person only by proof, never by a typed document number.

Two proofs exist (DESIGN §8): a real-name check (实名核验) through the `RealNameCheck` port —
WeChat's check in production, a sandbox page in development — or an officer who has seen the
person's document at the station and links them in the console (audited). Until linked, a user
sees only what that user submitted.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select

from app.extensions import db
from app.identity import IdentityError, check_document
from app.models import Officer, Person, WeChatUser, utcnow
from app.services.accounts import audit
from app.services.people import people
from app.services.errors import RuleError

LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # read aloud at the counter
LINK_CODE_LENGTH = 8
LINK_CODE_MINUTES = 30
MIN_REASON = 4
MAX_REASON = 200


@dataclass(frozen=True)
class RealNameClaim:
    """Who the user says they are: a name and a (canonical) resident ID number."""

    name: str
    document_type: str
    document_number: str


@dataclass(frozen=True)
class RealNameStart:
    """Where to send the user to complete the check; url is None when no check is available."""

    url: str | None
    ticket: str | None = None
    message: str | None = None


class RealNameCheck(Protocol):
    """实名核验: whether the holder of a WeChat account is the person a claim names."""

    label: str

    def start(self, user: WeChatUser, claim: RealNameClaim, return_url: str) -> RealNameStart:
        """Begin a check for this user and claim; the user is sent to `url`, then back."""

    def verified(self, user: WeChatUser, claim: RealNameClaim, ticket: str) -> bool | None:
        """True verified, False refused, None not finished — for exactly this user and claim."""


def make_claim(name: str, document_type: str, document_number: str) -> RealNameClaim:
    """Validate what the user typed into a claim; the check then proves it or not."""
    name = (name or "").strip()
    if not name:
        raise RuleError("name", "请填写姓名")
    if document_type != "resident_id":
        raise RuleError("document_type",
                        "实名核验仅支持居民身份证；其他证件请到社区警务室由民警核实后关联")
    try:
        info = check_document(document_type, document_number or "")
    except IdentityError as exc:
        raise RuleError("document_number", exc.message) from None
    return RealNameClaim(name=name, document_type=document_type, document_number=info.number)


def begin_real_name_check(check: RealNameCheck, user: WeChatUser, claim: RealNameClaim,
                          return_url: str) -> RealNameStart:
    """Start the real-name check; refuses when the user is already linked or no check exists."""
    if user.person_id:
        raise RuleError("_schema", "您已完成实名关联")
    started = check.start(user, claim, return_url)
    if started.url is None:
        raise RuleError("_schema", started.message or "实名核验未开通")
    return started


def complete_real_name_check(check: RealNameCheck, user: WeChatUser, claim: RealNameClaim,
                             ticket: str) -> Person:
    """Link the user to the claimed person once the check says so; the verified name is kept."""
    if user.person_id:
        raise RuleError("_schema", "您已完成实名关联")
    result = check.verified(user, claim, ticket)
    if result is None:
        raise RuleError("_schema", "实名核验尚未完成，请先完成核验")
    if not result:
        raise RuleError("_schema", "实名核验未通过：姓名与身份证号码不属于当前微信用户")
    person = people.find_person(claim.document_type, claim.document_number)
    if person is None:
        person = people.upsert_person(document_type=claim.document_type,
                                      document_number=claim.document_number, name=claim.name,
                                      collected_by_type="real_name", collected_by_id=user.id,
                                      channel="real_name")
    else:
        people.record_change(person, "name", claim.name, "real_name")
    _link(user, person, "real_name")
    return person


def _link(user: WeChatUser, person: Person, method: str, officer: Officer | None = None,
          now: datetime | None = None) -> None:
    user.person_id = person.id
    user.person_link_method = method
    user.person_linked_at = now or utcnow()
    user.person_linked_by_officer_id = officer.id if officer else None
    user.link_code = user.link_code_expires_at = None
    db.session.flush()


def link_code_for(user: WeChatUser, now: datetime | None = None) -> str:
    """The short code this user shows an officer at the station (valid 30 minutes)."""
    now = now or utcnow()
    if user.link_code and user.link_code_expires_at and user.link_code_expires_at > now:
        return user.link_code
    user.link_code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))
    user.link_code_expires_at = now + timedelta(minutes=LINK_CODE_MINUTES)
    db.session.flush()
    return user.link_code


def officer_link(officer: Officer, person: Person, code: str, reason: str,
                 ip: str | None = None, now: datetime | None = None) -> WeChatUser:
    """An officer who has checked the person's document links the WeChat user showing `code`.

    The person is already loaded through the officer's scope; the link is audited with a reason.
    """
    now = now or utcnow()
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise RuleError("reason", f"请填写关联原因（至少 {MIN_REASON} 个字），例如核验证件的情况")
    if len(reason) > MAX_REASON:
        raise RuleError("reason", f"原因不能超过 {MAX_REASON} 字")
    code = (code or "").strip().upper()
    user = db.session.execute(
        select(WeChatUser).where(WeChatUser.link_code == code)).scalar_one_or_none() if code else None
    if user is None or not user.link_code_expires_at or user.link_code_expires_at <= now:
        raise RuleError("code", "关联码无效或已过期，请让本人在「我的居住登记」页面查看最新关联码")
    if user.person_id and user.person_id != person.id:
        raise RuleError("code", "该微信用户已关联其他人员，不能再关联")
    _link(user, person, "officer", officer, now)
    audit.record(officer, "person.link_wechat", "person", person.id, reason=reason, ip=ip,
                 detail={"wechat_user_id": user.id})
    return user


def linked_users(person: Person) -> list[WeChatUser]:
    """The WeChat users proven to be this person."""
    return list(db.session.execute(select(WeChatUser).where(
        WeChatUser.person_id == person.id).order_by(WeChatUser.id)).scalars())
