"""Persons (实有人口): validated, encrypted, and found by blind index — never by plaintext.

Declarations propose facts about people; they never overwrite them (DESIGN §8). A declaration
naming an existing person leaves its name, phone and nationality alone and records a proposed
PersonChange instead, applied when the declaration is verified or approved, discarded when it is
rejected; applied changes are the person's history.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app import crypto
from app.extensions import db
from app.identity import check_document, check_mobile
from app.models import Branch, Person, PersonChange, utcnow
from app.services.accounts import audit


def document_blind_index(document_type: str, number: str) -> str:
    """The blind index a document number is stored and searched under."""
    return crypto.blind_index(f"doc:{document_type}", number)


def find_person(document_type: str, number: str) -> Person | None:
    """The person holding this document, by blind index (the number itself is never queried)."""
    info = check_document(document_type, number)
    return db.session.execute(
        select(Person).where(
            Person.document_type == document_type,
            Person.document_blind_index == document_blind_index(document_type, info.number),
        )
    ).scalar_one_or_none()


def local_region_codes() -> set[str]:
    """Household-register region codes that count as local (not 流动人口)."""
    return {code for code in db.session.execute(select(Branch.region_code)).scalars() if code}


def upsert_person(*, document_type: str, document_number: str, name: str,
                  phone: str | None = None, nationality: str = "CHN",
                  collected_by_type: str = "system", collected_by_id: int | None = None,
                  channel: str = "system", lat: float | None = None,
                  lng: float | None = None) -> Person:
    """Validate the document and phone; a new person is created, an existing one only proposed to.

    For an existing person, a name, phone or nationality that differs from what is on record
    becomes a PersonChange in `proposed` (not yet tied to a declaration: `attach_proposals` does
    that); the person's own fields are not touched. Raises app.identity.IdentityError naming the
    field and the reason in Chinese.
    """
    info = check_document(document_type, document_number, nationality=nationality)
    canonical_phone = check_mobile(phone) if phone else None
    name = name.strip()
    nationality = (nationality or "CHN").upper()
    person = db.session.execute(
        select(Person).where(
            Person.document_type == document_type,
            Person.document_blind_index == document_blind_index(document_type, info.number),
        )
    ).scalar_one_or_none()
    if person is not None:
        if not person.document_number_enc:
            return _refill_anonymised(person, info, name, nationality, canonical_phone,
                                      document_type)
        # What follows from the number itself is not a proposal: it is the same for everyone.
        person.birth_date = person.birth_date or info.birth_date
        person.sex = person.sex or info.sex
        person.household_region_code = person.household_region_code or info.region_code
        propose(person, "name", name)
        propose(person, "nationality", nationality)
        if canonical_phone:
            propose(person, "phone", canonical_phone)
        db.session.flush()
        return person
    enc, blind, masked = crypto.protect_document(document_type, info.number)
    person = Person(document_type=document_type, document_number_enc=enc,
                    document_blind_index=blind, document_masked=masked,
                    collected_by_type=collected_by_type, collected_by_id=collected_by_id,
                    collected_channel=channel, collected_lat=lat, collected_lng=lng,
                    name=name, birth_date=info.birth_date, sex=info.sex,
                    household_region_code=info.region_code, nationality=nationality)
    person.is_floating = not (
        document_type == "resident_id" and info.region_code in local_region_codes()
    )
    if canonical_phone:
        person.phone_enc, person.phone_blind_index, person.phone_masked = (
            crypto.protect_phone(canonical_phone)
        )
    db.session.add(person)
    db.session.flush()
    return person


def _current(person: Person, field: str) -> str | None:
    return person.phone_masked if field == "phone" else getattr(person, field)


def propose(person: Person, field: str, value: str) -> PersonChange | None:
    """Record that a submission says `field` of this person is `value`; None when it already is."""
    if field == "phone":
        if person.phone_enc and crypto.decrypt(person.phone_enc) == value:
            return None
        shown = crypto.mask_phone(value)
    elif getattr(person, field) == value:
        return None
    else:
        shown = value
    change = PersonChange(person_id=person.id, field=field, new_value=shown, status="proposed",
                          new_value_enc=crypto.encrypt(value) if field == "phone" else None)
    db.session.add(change)
    return change


def unattached_proposals(person: Person | None = None) -> list[PersonChange]:
    """Proposals made in this transaction that no declaration carries yet."""
    stmt = select(PersonChange).where(PersonChange.declaration_id.is_(None),
                                      PersonChange.status == "proposed")
    if person is not None:
        stmt = stmt.where(PersonChange.person_id == person.id)
    return list(db.session.execute(stmt.order_by(PersonChange.id)).scalars())


def attach_proposals(declaration_id: int) -> list[PersonChange]:
    """Tie this transaction's unattached proposals to the declaration that carries them."""
    changes = unattached_proposals()
    for change in changes:
        change.declaration_id = declaration_id
    db.session.flush()
    return changes


def proposals_of(declaration_id: int) -> list[PersonChange]:
    """The changes a declaration proposes that are still waiting for a decision."""
    return list(db.session.execute(select(PersonChange).where(
        PersonChange.declaration_id == declaration_id, PersonChange.status == "proposed")
        .order_by(PersonChange.id)).scalars())


def apply_proposals(declaration_id: int, actor: str, now: datetime | None = None) -> int:
    """Apply what a verified or approved declaration proposed; each one becomes history."""
    changes = proposals_of(declaration_id)
    for change in changes:
        apply_change(change, actor, now)
    db.session.flush()
    return len(changes)


def apply_change(change: PersonChange, actor: str, now: datetime | None = None) -> None:
    """Write one change to its person, recording the value it replaces."""
    person = change.person or db.session.get(Person, change.person_id)
    change.old_value = _current(person, change.field)
    if change.field == "phone":
        phone = crypto.decrypt(change.new_value_enc)
        person.phone_enc, person.phone_blind_index, person.phone_masked = (
            crypto.protect_phone(phone))
        change.new_value_enc = None  # applied: the number now lives (encrypted) on the person
    else:
        setattr(person, change.field, change.new_value)
    change.status, change.applied_by, change.applied_at = "applied", actor, now or utcnow()


def record_change(person: Person, field: str, value: str, actor: str,
                  declaration_id: int | None = None) -> PersonChange | None:
    """Change a person's field now (an officer's or a real-name decision), with history."""
    change = propose(person, field, value)
    if change is None:
        return None
    change.declaration_id = declaration_id
    change.person = person
    apply_change(change, actor)
    db.session.flush()
    return change


def discard_proposals(declaration_id: int) -> int:
    """A rejected or denied declaration's proposals are dropped; they never reach the person."""
    changes = proposals_of(declaration_id)
    for change in changes:
        change.status, change.new_value_enc = "discarded", None
    db.session.flush()
    return len(changes)


def history_of(person: Person) -> list[PersonChange]:
    """The applied changes to a person, newest first."""
    return list(db.session.execute(select(PersonChange).where(
        PersonChange.person_id == person.id, PersonChange.status == "applied")
        .order_by(PersonChange.applied_at.desc(), PersonChange.id.desc())).scalars())


def _refill_anonymised(person: Person, info, name: str, nationality: str,
                       phone: str | None, document_type: str) -> Person:
    """A person anonymised by retention (services/people/retention.py) is declared again: the kept
    record holds nothing to protect, so it takes what is declared, as a new person would."""
    person.document_number_enc, _, person.document_masked = crypto.protect_document(
        document_type, info.number)
    person.name, person.nationality = name, nationality
    person.birth_date, person.sex = info.birth_date, info.sex
    person.household_region_code = info.region_code
    if phone:
        person.phone_enc, person.phone_blind_index, person.phone_masked = crypto.protect_phone(phone)
    db.session.flush()
    return person


REVEAL_FIELDS = {"document": "证件号码", "phone": "手机号码"}


def reveal(officer, person: Person, field: str, reason: str, ip: str | None = None) -> dict | None:
    """A person's full document number (with the birth date it carries) or phone, audited with
    the officer's reason; None when there is no such field to show."""
    if field not in REVEAL_FIELDS or (field == "phone" and not person.phone_enc):
        return None
    # The masked digits of an ID are its birth date: revealing one reveals the other.
    shown = ["document_number", "birth_date"] if field == "document" else ["phone"]
    audit.record(officer, f"person.reveal_{field}", "person", person.id, reason=reason, ip=ip,
                 detail={"shown": shown})
    if field == "phone":
        return {"phone": crypto.decrypt(person.phone_enc)}
    return {"document": crypto.decrypt(person.document_number_enc),
            "birth_date": person.birth_date}
