"""Officer account administration for system admins: placement checks, create, change role and
area, reset password, (de)activate — each with its audit row; the caller commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import AuditLog, Officer, PoliceArea, Station, utcnow
from app.services.accounts import audit, scoping
from app.services.errors import RuleError
from app.services.accounts.officers import create_officer, hash_password

AUDIT_PER_PAGE = 100
BEIJING_OFFSET = timedelta(hours=8)


def area_options(officer: Officer) -> tuple[list[Station], list[PoliceArea]]:
    """The stations and police areas an administrator may place accounts in, by name."""
    stations = db.session.execute(scoping.scope_stations(
        select(Station).order_by(Station.name), officer)).scalars().all()
    areas = db.session.execute(scoping.scope_police_areas(
        select(PoliceArea).order_by(PoliceArea.name), officer)).scalars().all()
    return list(stations), list(areas)


def _id(raw: str | None) -> int | None:
    return int(raw) if (raw or "").isdigit() else None


def placement(officer: Officer, role: str, station_raw: str | None,
              area_raw: str | None) -> tuple[int | None, int | None]:
    """(station_id, police_area_id) for the role chosen, checked against the administrator's
    branch; RuleError("role", …) when the choice does not fit the role."""
    station_id, area_id = _id(station_raw), _id(area_raw)
    if area_id is not None:
        area = db.session.get(PoliceArea, area_id)
        if area is None or not scoping.scoped_ids(PoliceArea, [area_id], officer):
            raise RuleError("role", "警务区无效")
        station_id = area.station_id  # an area always belongs to exactly one station
    if station_id is not None and not scoping.scoped_ids(Station, [station_id], officer):
        raise RuleError("role", "派出所无效")
    if role == "officer" and area_id is None:
        raise RuleError("role", "民警必须指定警务区")
    if role == "station_admin" and station_id is None:
        raise RuleError("role", "派出所管理员必须指定派出所")
    if role in scoping.BRANCH_ROLES:
        station_id = area_id = None
    elif role == "station_admin":
        area_id = None
    return station_id, area_id


def branch_officers(admin: Officer) -> list[Officer]:
    """The accounts this administrator manages, by username."""
    return list(db.session.execute(scoping.scope_officers(
        select(Officer).order_by(Officer.username), admin)).scalars())


def create_in_branch(admin: Officer, *, username: str, password: str, name: str,
                     badge_number: str, role: str, station_raw: str | None,
                     area_raw: str | None, ip: str | None = None) -> Officer:
    """Create an account in the administrator's branch; RuleError on a bad placement or a
    username or badge number already in use (the caller then rolls back)."""
    station_id, area_id = placement(admin, role, station_raw, area_raw)
    try:
        created = create_officer(username=username.strip(), password=password,
                                 name=name.strip(), badge_number=badge_number.strip(), role=role,
                                 branch_id=admin.branch_id, station_id=station_id,
                                 police_area_id=area_id)
    except IntegrityError:
        raise RuleError("username", "用户名或警号已被使用") from None
    audit.record(admin, "officer.create", "officer", created.id, ip=ip,
                 detail={"role": created.role})
    return created


def change_placement(admin: Officer, target: Officer, role: str, station_raw: str | None,
                     area_raw: str | None, ip: str | None = None) -> None:
    """Change an account's role and area (checked as for a new account)."""
    station_id, area_id = placement(admin, role, station_raw, area_raw)
    target.role, target.station_id, target.police_area_id = role, station_id, area_id
    audit.record(admin, "officer.update", "officer", target.id, ip=ip,
                 detail={"role": target.role, "station_id": station_id,
                         "police_area_id": area_id})


def reset_password(admin: Officer, target: Officer, password: str, ip: str | None = None) -> None:
    """A new password; the lock-out clears and every session of the account ends."""
    target.password_hash = hash_password(password)
    target.password_changed_at = utcnow()
    target.failed_logins, target.locked_until = 0, None
    audit.record(admin, "officer.reset_password", "officer", target.id, ip=ip)


def toggle_active(admin: Officer, target: Officer, ip: str | None = None) -> bool:
    """Deactivate or reactivate an account (never one's own); returns whether it is active."""
    if target.id == admin.id:
        raise RuleError("_schema", "不能停用自己的账号")
    target.is_active = not target.is_active
    audit.record(admin, "officer.activate" if target.is_active else "officer.deactivate",
                 "officer", target.id, ip=ip)
    return target.is_active


@dataclass(frozen=True)
class AuditFilter:
    """What the audit log viewer filters by; dates are Beijing calendar days."""

    action: str | None = None
    actor_id: int | None = None
    object_type: str | None = None
    object_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_page(admin: Officer, wanted: AuditFilter, page: int) -> tuple[list[AuditLog], bool]:
    """One page of the audit rows this administrator may read, newest first, and whether
    there is a next page."""
    stmt = select(AuditLog)
    if wanted.action:
        stmt = stmt.where(AuditLog.action.like(wanted.action[:64].replace("%", "") + "%"))
    if wanted.actor_id is not None:
        stmt = stmt.where(AuditLog.actor_id == wanted.actor_id)
    if wanted.object_type:
        stmt = stmt.where(AuditLog.object_type == wanted.object_type[:32])
    if wanted.object_id is not None:
        stmt = stmt.where(AuditLog.object_id == wanted.object_id)
    # The dates are Beijing calendar days; the log is kept in UTC.
    if wanted.since:
        stmt = stmt.where(AuditLog.at >= wanted.since - BEIJING_OFFSET)
    if wanted.until:
        stmt = stmt.where(AuditLog.at < wanted.until + timedelta(days=1) - BEIJING_OFFSET)
    rows = db.session.execute(scoping.scope_audit(stmt, admin)
                              .order_by(AuditLog.id.desc()).limit(AUDIT_PER_PAGE + 1)
                              .offset((page - 1) * AUDIT_PER_PAGE)).scalars().all()
    return list(rows[:AUDIT_PER_PAGE]), len(rows) > AUDIT_PER_PAGE


def audit_actors(admin: Officer) -> list:
    """(id, name) of the officers whose actions this administrator may filter by."""
    stmt = select(Officer.id, Officer.name).where(Officer.branch_id == admin.branch_id)
    if admin.role == "station_admin":
        stmt = stmt.where(Officer.station_id == admin.station_id)
    return list(db.session.execute(stmt.order_by(Officer.name)).all())
