"""Officer accounts: argon2 password hashes, the sign-in back-off, server-side session ends."""
from __future__ import annotations

import hashlib
import math
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.extensions import db
from app.models import Officer, utcnow
from app.models.officer import OFFICER_ROLES

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Argon2id hash with the library's current recommended parameters."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches; never raises for a wrong password or a broken hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_officer(*, username: str, password: str, name: str, badge_number: str, role: str,
                   branch_id: int, station_id: int | None = None,
                   police_area_id: int | None = None) -> Officer:
    """Create an officer account; the role decides which area must be given."""
    if role not in OFFICER_ROLES:
        raise ValueError(f"unknown role {role}")
    if role == "officer" and police_area_id is None:
        raise ValueError("an officer needs a police area")
    if role == "station_admin" and station_id is None:
        raise ValueError("a station admin needs a station")
    officer = Officer(username=username, password_hash=hash_password(password), name=name,
                      badge_number=badge_number, role=role, branch_id=branch_id,
                      station_id=station_id, police_area_id=police_area_id,
                      password_changed_at=utcnow())
    db.session.add(officer)
    db.session.flush()
    return officer


# Sign-in back-off (DESIGN §8): counted per username *and* client address, so a stranger who
# types wrong passwords for someone's username from elsewhere slows only themselves.
FREE_FAILURES = 5  # failures before the first wait
FIRST_WAIT_SECONDS = 60  # the 5th failure waits 1 minute, the 6th 2, the 7th 4 …
MAX_WAIT_SECONDS = 60 * 60
FAILURE_MEMORY_SECONDS = 24 * 60 * 60  # failures are forgotten a day after the last one
_THROTTLE_KEY = "anju:console:signin:{digest}"


def _now() -> float:
    return time.time()


def _throttle_key(username: str, ip: str | None) -> str:
    digest = hashlib.sha256(f"{username.strip().casefold()}\n{ip or '-'}".encode()).hexdigest()
    return _THROTTLE_KEY.format(digest=digest)


def signin_wait(redis, username: str, ip: str | None) -> int:
    """Seconds this username must still wait before trying again from this address (0: none)."""
    until = redis.hget(_throttle_key(username, ip), "until")
    return max(0, math.ceil(float(until) - _now())) if until else 0


def record_signin_failure(redis, username: str, ip: str | None) -> int:
    """Count a failed sign-in for this username and address; the wait it starts (0: none yet).

    From the FREE_FAILURES-th failure on, each one doubles the wait, up to MAX_WAIT_SECONDS.
    """
    key = _throttle_key(username, ip)
    failures = int(redis.hincrby(key, "failures", 1))
    wait = 0
    if failures >= FREE_FAILURES:
        wait = min(MAX_WAIT_SECONDS, FIRST_WAIT_SECONDS * 2 ** min(failures - FREE_FAILURES, 16))
        redis.hset(key, "until", str(_now() + wait))
    redis.expire(key, FAILURE_MEMORY_SECONDS)
    return wait


def clear_signin_failures(redis, username: str, ip: str | None) -> None:
    """Forget the failures of this username from this address (after a successful sign-in)."""
    redis.delete(_throttle_key(username, ip))


def end_sessions(officer: Officer) -> None:
    """End every console session of this officer: the session cookies name the old version."""
    officer.session_version = (officer.session_version or 0) + 1
    db.session.flush()
