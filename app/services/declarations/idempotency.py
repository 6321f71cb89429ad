"""Idempotent officer API writes: the first answer to an (officer, Idempotency-Key) is stored
with the write, in the same transaction, and returned again for the same request."""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from app.extensions import db
from app.models import IdempotentRequest
from app.services.errors import RuleError

KEY_FIELD = "Idempotency-Key"


def fingerprint(method: str, path: str, body) -> str:
    """sha256 of the request: method, path and canonical JSON body."""
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def stored_answer(officer_id: int, key: str, print_: str) -> IdempotentRequest | None:
    """The answer stored for this key, or None; the key used for another request is refused."""
    row = db.session.execute(select(IdempotentRequest).where(
        IdempotentRequest.officer_id == officer_id,
        IdempotentRequest.key == key)).scalar_one_or_none()
    if row is not None and row.fingerprint != print_:
        raise RuleError(KEY_FIELD, "该幂等键已用于另一项操作，请为新操作生成新的幂等键")
    return row


def store_answer(officer_id: int, key: str, print_: str, status_code: int,
                 body: dict) -> IdempotentRequest:
    """Keep the answer beside the write it answers (the caller commits both)."""
    row = IdempotentRequest(officer_id=officer_id, key=key, fingerprint=print_,
                            status_code=status_code, body=body)
    db.session.add(row)
    db.session.flush()
    return row
