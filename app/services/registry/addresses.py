"""The console's address registry: the scoped address list, an officer's edit of one address
(audited) and the standard-address CSV import into the administrator's communities."""
from __future__ import annotations

import os
import re
import tempfile

from sqlalchemy import select

from app.extensions import db
from app.models import Address, Community, Officer
from app.services.accounts import audit, scoping
from app.services.registry.address_import import ImportReport, import_csv
from app.services.people.search import addresses_by_text

PER_PAGE = 100
EDITABLE = ("full_text", "road", "number", "building", "unit", "floor", "room", "is_residential",
            "status")


def scoped_communities(officer: Officer) -> list[Community]:
    """The communities of the officer's area, by name."""
    return list(db.session.execute(scoping.scope_communities(
        select(Community).order_by(Community.name), officer)).scalars())


def address_page(officer: Officer, *, q: str, community_id: str, plate: str,
                 page: int) -> tuple[list[Address], bool]:
    """One page of the area's addresses (by text or code, community, plate issued or missing),
    and whether there is a next page."""
    stmt = select(Address)
    if q.strip():
        found = [a.id for a in addresses_by_text(q, officer, limit=5000)]
        stmt = stmt.where(Address.id.in_(found))
    if community_id.isdigit():
        stmt = stmt.where(Address.community_id == int(community_id))
    if plate == "missing":
        stmt = stmt.where(Address.plate_issued_at.is_(None))
    elif plate == "issued":
        stmt = stmt.where(Address.plate_issued_at.is_not(None))
    rows = db.session.execute(scoping.scope_addresses(stmt, officer)
                              .order_by(Address.full_text, Address.id)
                              .limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)).scalars().all()
    return list(rows[:PER_PAGE]), len(rows) > PER_PAGE


def edit_address(officer: Officer, address: Address, values: dict, aliases_text: str | None,
                 ip: str | None = None) -> dict:
    """Apply an officer's edit (blank texts become empty, aliases split on 、,;) and audit what
    changed; returns {field: [before, after]}."""
    before = {k: getattr(address, k) for k in EDITABLE}
    for key in EDITABLE:
        value = values[key]
        if isinstance(value, str):
            value = value.strip() if key == "full_text" else (value.strip() or None)
        setattr(address, key, value)
    address.aliases = [x.strip() for x in re.split(r"[、,，;；]", aliases_text or "")
                       if x.strip()] or None
    changed = {k: [str(before[k]), str(getattr(address, k))] for k in EDITABLE
               if before[k] != getattr(address, k)}
    audit.record(officer, "address.edit", "address", address.id, ip=ip,
                 detail={"changed": changed})
    return changed


def import_for(officer: Officer, data: bytes,
               ip: str | None = None) -> tuple[ImportReport | None, str | None]:
    """Import an uploaded CSV into the officer's communities: (report, None), audited, or
    (None, the first refusal) when the file itself was refused and nothing was written."""
    communities = [c.id for c in scoped_communities(officer)]
    fd, path = tempfile.mkstemp(suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        report = import_csv(path, community_ids=communities)
    finally:
        os.unlink(path)
    if report.errors and report.total == 0:
        line, reason = report.errors[0]
        return None, f"第 {line} 行：{reason}"
    audit.record(officer, "address.import", "address", None, ip=ip,
                 detail={"inserted": report.inserted, "updated": report.updated,
                         "rejected": len(report.errors), "total": report.total})
    return report, None
