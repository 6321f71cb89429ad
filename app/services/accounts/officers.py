"""Officer accounts: argon2 password hashes, the sign-in back-off, server-side session ends."""
from __future__ import annotations

import functools
import hashlib
import math
import time
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from app.extensions import db
from app.models import Officer, utcnow
from app.models.officer import OFFICER_ROLES
from app.services.accounts import audit
from app.services.errors import RuleError

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


FAILED_MESSAGE = "用户名或密码错误；连续输错 5 次后须等待一段时间才能再试"
LOCKED_MESSAGE = "登录失败次数过多，已临时锁定，请 {minutes} 分钟后再试"


@functools.cache
def _dummy_hash() -> str:
    # Verified for unknown usernames so a miss costs as long as a wrong password (no enumeration).
    return hash_password("anju-timing-equaliser-not-a-password")


def _locked(wait_seconds: int) -> str:
    return LOCKED_MESSAGE.format(minutes=max(1, math.ceil(wait_seconds / 60)))


def authenticate(redis, username: str, password: str,
                 ip: str | None) -> tuple[Officer | None, str | None]:
    """Check the credentials under the back-off rule; (officer, None) or (None, Chinese message).

    The one sign-in rule of the console and the officer API: failures are counted per username
    and client address, for unknown usernames too, so the answers never tell whether an account
    exists and nobody can lock an officer out from another address. `redis` None (Redis down):
    sign-in still works, only without back-off.
    """
    wait = signin_wait(redis, username, ip) if redis is not None else 0
    if wait:
        return None, _locked(wait)
    officer = db.session.execute(
        select(Officer).where(Officer.username == username)).scalar_one_or_none()
    if officer is None:
        verify_password(_dummy_hash(), password)
    if officer is None or not verify_password(officer.password_hash, password) \
            or not officer.is_active:
        wait = record_signin_failure(redis, username, ip) if redis is not None else 0
        if officer is not None:
            # Every failed sign-in to a real account is in the audit log (unknown usernames
            # are not: a typed password must never be stored as a "username").
            audit.record(officer, "officer.login_failed", "officer", officer.id, ip=ip)
        if not wait:
            return None, FAILED_MESSAGE
        if officer is not None:
            # Shown to administrators (曾锁定); sign-in itself never consults it.
            officer.locked_until = utcnow() + timedelta(seconds=wait)
            audit.record(officer, "officer.locked", "officer", officer.id, ip=ip,
                         detail={"wait_seconds": wait})
        return None, _locked(wait)
    if redis is not None:
        clear_signin_failures(redis, username, ip)
    officer.failed_logins = 0
    officer.last_login_at = utcnow()
    return officer, None


def session_stamp(officer: Officer) -> str:
    """What a console session or officer API token must name to stay valid: the account, its
    session version and a stamp of its password hash (sign-out, password change and reset all
    change it)."""
    digest = hashlib.sha256(officer.password_hash.encode()).hexdigest()[:16]
    return f"{officer.id}.{officer.session_version or 0}.{digest}"


def sign_in(redis, username: str, password: str, ip: str | None, *,
            via: str | None = None) -> tuple[Officer | None, str | None]:
    """authenticate(), with the sign-in's audit row when it succeeds (via: the API names its
    channel, the console never did); the caller commits either way (the failure count too)."""
    officer, error = authenticate(redis, username, password, ip)
    if officer is not None:
        audit.record(officer, "officer.login", "officer", officer.id, ip=ip,
                     detail={"channel": via} if via else None)
    return officer, error


def change_own_password(officer: Officer, current: str, new: str, ip: str | None = None) -> None:
    """An officer changes their own password: the current one must match and the new one
    differ (RuleError on the field); every other session of the account ends, audited."""
    if not verify_password(officer.password_hash, current):
        raise RuleError("current", "当前密码不正确")
    if new == current:
        raise RuleError("new", "新密码不能与当前密码相同")
    officer.password_hash = hash_password(new)
    officer.password_changed_at = utcnow()
    end_sessions(officer)
    audit.record(officer, "officer.password_change", "officer", officer.id, ip=ip)
