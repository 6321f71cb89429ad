"""The sandbox real-name check: a page where the tester plays WeChat's 实名核验 and decides.

The session lives in Redis with the fake user's openid and a keyed hash of the claim (never the
number itself), so the result counts only for that user and exactly that name and number — as
WeChat's queryverifyinfo checks openid and cert_hash.
"""
from __future__ import annotations

import json
import secrets

from flask import url_for

from app import crypto
from app.models import WeChatUser
from app.redis_conn import get_redis
from app.services.people.linking import RealNameClaim, RealNameStart

SESSION_TTL = 3600  # WeChat's verify_id is valid for an hour
_KEY = "wxsandbox:realname:{ticket}"


def claim_hash(claim: RealNameClaim) -> str:
    return crypto.blind_index("sandbox:realname",
                              f"{claim.document_type}|{claim.name}|{claim.document_number}")


def load(ticket: str) -> dict | None:
    """The sandbox check session behind a ticket, or None."""
    if not ticket or len(ticket) > 64:
        return None
    raw = get_redis().get(_KEY.format(ticket=ticket))
    return json.loads(raw) if raw else None


def decide(ticket: str, passed: bool) -> dict | None:
    """Record the tester's decision (once); returns the session."""
    session = load(ticket)
    if session is None:
        return None
    if session.get("result") is None:
        session["result"] = bool(passed)
        get_redis().set(_KEY.format(ticket=ticket), json.dumps(session), ex=SESSION_TTL)
    return session


class SandboxRealNameCheck:
    """Development and tests: the tester completes 模拟微信实名核验 in the sandbox."""

    label = "模拟微信实名核验（沙箱）"

    def start(self, user: WeChatUser, claim: RealNameClaim, return_url: str) -> RealNameStart:
        ticket = secrets.token_urlsafe(18)
        session = {"openid": user.openid, "name": claim.name,
                   "document_masked": crypto.mask_document(claim.document_number),
                   "claim_hash": claim_hash(claim), "return_url": return_url, "result": None}
        get_redis().set(_KEY.format(ticket=ticket), json.dumps(session), ex=SESSION_TTL)
        return RealNameStart(url=url_for("wechat_sandbox.real_name", ticket=ticket),
                             ticket=ticket)

    def verified(self, user: WeChatUser, claim: RealNameClaim, ticket: str) -> bool | None:
        session = load(ticket)
        if session is None or session["openid"] != user.openid:
            return False
        if session["claim_hash"] != claim_hash(claim):
            return False
        return session.get("result")
