"""Field encryption (AES-GCM with key ids), blind indexes (HMAC-SHA256) and masking.

Stored form of an encrypted value: "<key id>:<base64(nonce | ciphertext+tag)>". The key id
travels with the value so keys can rotate: old values still decrypt with their key, new writes
use the active key. Blind indexes are keyed HMACs of the normalised value, so an exact lookup
never needs the plaintext in the database.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from app.identity import fold_width


class KeyConfigError(RuntimeError):
    """The encryption keys in the configuration are missing or malformed."""


def generate_key() -> str:
    """A new random 256-bit key, base64-encoded, for FIELD_ENCRYPTION_KEYS or BLIND_INDEX_KEY."""
    return base64.b64encode(os.urandom(32)).decode()


def _decode_key(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise KeyConfigError(f"{what} is not valid base64") from exc
    if len(raw) != 32:
        raise KeyConfigError(f"{what} must be 32 bytes (256 bits), got {len(raw)}")
    return raw


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]
    active_id: str
    blind_key: bytes

    @classmethod
    def from_config(cls, config) -> "Keyring":
        spec = config.get("FIELD_ENCRYPTION_KEYS") or ""
        keys: dict[str, bytes] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            kid, sep, material = part.partition(":")
            if not sep or not kid or ":" in material:
                raise KeyConfigError("FIELD_ENCRYPTION_KEYS entries must look like 'kid:base64key'")
            keys[kid] = _decode_key(material, f"field key {kid!r}")
        if not keys:
            raise KeyConfigError("FIELD_ENCRYPTION_KEYS is empty")
        active = config.get("FIELD_ENCRYPTION_ACTIVE_KEY_ID") or next(reversed(keys))
        if active not in keys:
            raise KeyConfigError(f"active key id {active!r} is not in FIELD_ENCRYPTION_KEYS")
        blind = config.get("BLIND_INDEX_KEY")
        if not blind:
            raise KeyConfigError("BLIND_INDEX_KEY is empty")
        return cls(keys=keys, active_id=active, blind_key=_decode_key(blind, "BLIND_INDEX_KEY"))

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.active_id]).encrypt(
            nonce, plaintext.encode(), self.active_id.encode()
        )
        return f"{self.active_id}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str) -> str:
        kid, _, body = stored.partition(":")
        if kid not in self.keys:
            raise KeyConfigError(f"no key with id {kid!r} to decrypt this value")
        raw = base64.b64decode(body)
        return AESGCM(self.keys[kid]).decrypt(raw[:12], raw[12:], kid.encode()).decode()

    def blind_index(self, purpose: str, value: str) -> str:
        message = f"{purpose}\x1f{normalise(value)}".encode()
        return hmac.new(self.blind_key, message, hashlib.sha256).hexdigest()


def normalise(value: str) -> str:
    """Canonical form for lookups: no spaces, full-width folded, upper-case (x → X)."""
    return "".join(fold_width(value).split()).upper()


def keyring() -> Keyring:
    """The current app's keyring, built once per app."""
    ring = current_app.extensions.get("anju_keyring")
    if ring is None:
        ring = current_app.extensions["anju_keyring"] = Keyring.from_config(current_app.config)
    return ring


def encrypt(plaintext: str) -> str:
    return keyring().encrypt(plaintext)


def decrypt(stored: str) -> str:
    return keyring().decrypt(stored)


def blind_index(purpose: str, value: str) -> str:
    return keyring().blind_index(purpose, value)


def mask_document(number: str) -> str:
    """350303199001011234 → 350303********1234: the birth-date characters are always hidden.

    18 characters (resident ID, HMT permit, 2023 foreign PR: birth date at 7-14) keep 6 + 4;
    15 (first-generation ID: birth date at 7-12; 2004 foreign PR: 6-11) keep 5 + 3; any other
    length keeps 2 + 2.
    """
    n = normalise(number)
    if len(n) == 18:
        return n[:6] + "*" * 8 + n[-4:]
    if len(n) == 15:
        return n[:5] + "*" * 7 + n[-3:]
    if len(n) > 4:
        return n[:2] + "*" * (len(n) - 4) + n[-2:]
    return "*" * len(n)


def mask_name(name: str) -> str:
    """张小三 → 张*三, 张三 → 张*, 欧阳小明 → 欧**明."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678."""
    p = normalise(phone)
    if len(p) >= 7:
        return p[:3] + "*" * (len(p) - 7) + p[-4:]
    return "*" * len(p)


def protect_document(document_type: str, number: str) -> tuple[str, str, str]:
    """(ciphertext, blind index, masked) for a document number."""
    n = normalise(number)
    return encrypt(n), blind_index(f"doc:{document_type}", n), mask_document(n)


def protect_phone(phone: str) -> tuple[str, str, str]:
    """(ciphertext, blind index, masked) for a phone number."""
    p = normalise(phone)
    return encrypt(p), blind_index("phone", p), mask_phone(p)
