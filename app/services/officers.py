"""Officer accounts: argon2 password hashes."""
from __future__ import annotations

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
