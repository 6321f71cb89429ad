"""Data retention (docs/DEPLOY.md «数据保留»): audit rows older than the retention period are
purged; people whose every residence and employment ended long ago are anonymised.

Both are idempotent and chunked: the jobs (workers/retention_jobs.py) commit once per chunk.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, or_, select, update

from app.extensions import db
from app.models import (
    AuditLog, CaseCheck, ControlTask, Declaration, Employment, House, Penalty, Person, PersonChange,
    Residence,
    SpotCheckPerson, WeChatUser,
)

# 网络安全法 第二十一条: network logs are kept for at least six months.
MIN_AUDIT_RETENTION_DAYS = 183
DEFAULT_AUDIT_RETENTION_DAYS = 400
DEFAULT_ENDED_RESIDENCE_RETENTION_DAYS = 730
ANONYMISED_NAME = "已清除"
CHUNK = 1000


def retention_problems(config) -> list[str]:
    """One line per retention setting the app must refuse to start with."""
    problems = []
    try:
        audit = int(config.get("AUDIT_RETENTION_DAYS") or DEFAULT_AUDIT_RETENTION_DAYS)
        if audit < MIN_AUDIT_RETENTION_DAYS:
            problems.append(f"AUDIT_RETENTION_DAYS must be at least {MIN_AUDIT_RETENTION_DAYS} "
                            f"(网络安全法 第二十一条: six months), not {audit}")
    except (TypeError, ValueError):
        problems.append("AUDIT_RETENTION_DAYS must be a whole number of days")
    try:
        ended = int(config.get("ENDED_RESIDENCE_RETENTION_DAYS")
                    or DEFAULT_ENDED_RESIDENCE_RETENTION_DAYS)
        if ended < 1:
            problems.append("ENDED_RESIDENCE_RETENTION_DAYS must be a positive number of days")
    except (TypeError, ValueError):
        problems.append("ENDED_RESIDENCE_RETENTION_DAYS must be a whole number of days")
    return problems


def purge_audit_chunk(now: datetime, days: int, limit: int = CHUNK) -> int:
    """Delete up to `limit` audit rows older than `days` days; the number deleted."""
    if days < MIN_AUDIT_RETENTION_DAYS:
        raise ValueError(f"audit rows are kept at least {MIN_AUDIT_RETENTION_DAYS} days")
    cutoff = now - timedelta(days=days)
    ids = db.session.execute(select(AuditLog.id).where(AuditLog.at < cutoff)
                             .order_by(AuditLog.id).limit(limit)).scalars().all()
    if not ids:
        return 0
    # A bulk DELETE: the ORM's append-only guard (models/audit.py) stops edits from the app, not
    # the retention purge, which is the one sanctioned way rows leave the table.
    db.session.execute(delete(AuditLog).where(AuditLog.id.in_(ids)),
                       execution_options={"synchronize_session": False})
    db.session.flush()
    return len(ids)


def _expired_people(cutoff_date, limit: int):
    """Ids of not-yet-anonymised people with an ended residence or employment, none live or
    ended after the cutoff, and no other link that still needs their identity."""
    live_residence = exists().where(Residence.person_id == Person.id,
                                    or_(Residence.end_date.is_(None),
                                        Residence.end_date >= cutoff_date))
    live_employment = exists().where(Employment.person_id == Person.id,
                                     or_(Employment.end_date.is_(None),
                                         Employment.end_date >= cutoff_date))
    had_stay = or_(exists().where(Residence.person_id == Person.id),
                   exists().where(Employment.person_id == Person.id))
    other_links = or_(
        exists().where(or_(House.owner_person_id == Person.id, House.agent_person_id == Person.id)),
        exists().where(WeChatUser.person_id == Person.id),
        exists().where(Penalty.landlord_person_id == Person.id),
        exists().where(ControlTask.person_id == Person.id),
        exists().where(SpotCheckPerson.person_id == Person.id),
        exists().where(CaseCheck.person_id == Person.id),
    )
    return db.session.execute(
        select(Person.id).where(Person.document_number_enc != "", had_stay, ~live_residence,
                                ~live_employment, ~other_links)
        .order_by(Person.id).limit(limit)).scalars().all()


def _scrub_payload(value, person_ids: set[int]):
    """The declaration payload with every entry for one of these people stripped of name and
    masked numbers."""
    if isinstance(value, dict):
        scrubbed = {k: _scrub_payload(v, person_ids) for k, v in value.items()}
        if scrubbed.get("person_id") in person_ids:
            scrubbed.update(name=ANONYMISED_NAME, document_masked=None, phone_masked=None)
        return scrubbed
    if isinstance(value, list):
        return [_scrub_payload(v, person_ids) for v in value]
    return value


def anonymise_chunk(now: datetime, days: int, limit: int = CHUNK) -> int:
    """Anonymise up to `limit` people whose stays all ended more than `days` days ago.

    Cleared: name, encrypted and masked document number, phone (encrypted, blind index,
    masked), birth date, sex, household region, and their entries in the declarations of their
    stays, the names declarers typed on those stays and the person's change history. Kept: the document blind index (an HMAC, useless without the key and the number),
    document type and nationality, so the residence history stays countable and a returning
    person is linked to it again (people.upsert_person refills the row).
    """
    cutoff_date = (now - timedelta(days=days)).date()
    ids = _expired_people(cutoff_date, limit)
    if not ids:
        return 0
    people = db.session.execute(select(Person).where(Person.id.in_(ids))).scalars().all()
    for person in people:
        person.name = ANONYMISED_NAME
        person.document_number_enc = ""
        person.document_masked = ANONYMISED_NAME
        person.phone_enc = person.phone_blind_index = person.phone_masked = None
        person.birth_date = person.sex = person.household_region_code = None
    # The names declarers typed, and the person's change history, name the person too.
    db.session.execute(update(Residence).where(Residence.person_id.in_(ids))
                       .values(declared_name=None))
    db.session.execute(update(Employment).where(Employment.person_id.in_(ids))
                       .values(declared_name=None))
    db.session.execute(delete(PersonChange).where(PersonChange.person_id.in_(ids)))
    declaration_ids = set(db.session.execute(
        select(Residence.declaration_id).where(Residence.person_id.in_(ids),
                                               Residence.declaration_id.is_not(None))).scalars())
    declaration_ids |= set(db.session.execute(
        select(Employment.declaration_id).where(Employment.person_id.in_(ids),
                                                Employment.declaration_id.is_not(None))).scalars())
    house_ids = set(db.session.execute(
        select(Residence.house_id).where(Residence.person_id.in_(ids))).scalars())
    employer_ids = set(db.session.execute(
        select(Employment.employer_id).where(Employment.person_id.in_(ids))).scalars())
    wanted = set(ids)
    for declaration in db.session.execute(select(Declaration).where(or_(
            Declaration.id.in_(declaration_ids or {0}),
            and_(Declaration.house_id.in_(house_ids or {0}),
                 Declaration.kind.in_(("move_in", "move_out", "correction"))),
            and_(Declaration.employer_id.in_(employer_ids or {0}),
                 Declaration.kind.in_(("hire", "leave")))))).scalars():
        scrubbed = _scrub_payload(declaration.payload, wanted)
        if scrubbed != declaration.payload:
            declaration.payload = scrubbed
    db.session.flush()
    return len(ids)
