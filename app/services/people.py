"""Persons (实有人口): validated, encrypted, and found by blind index — never by plaintext."""
from __future__ import annotations

from sqlalchemy import select

from app import crypto
from app.extensions import db
from app.identity import check_document, check_mobile
from app.models import Branch, Person


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
    """Validate the document and phone, then return the existing person (refreshed) or a new one.

    Raises app.identity.IdentityError naming the field and the reason in Chinese.
    """
    info = check_document(document_type, document_number, nationality=nationality)
    canonical_phone = check_mobile(phone) if phone else None
    person = db.session.execute(
        select(Person).where(
            Person.document_type == document_type,
            Person.document_blind_index == document_blind_index(document_type, info.number),
        )
    ).scalar_one_or_none()
    if person is None:
        enc, blind, masked = crypto.protect_document(document_type, info.number)
        person = Person(document_type=document_type, document_number_enc=enc,
                        document_blind_index=blind, document_masked=masked,
                        collected_by_type=collected_by_type, collected_by_id=collected_by_id,
                        collected_channel=channel, collected_lat=lat, collected_lng=lng)
        db.session.add(person)
    elif not person.document_number_enc:  # anonymised by retention (services/retention.py): back
        person.document_number_enc, _, person.document_masked = crypto.protect_document(
            document_type, info.number)
    person.name = name.strip()
    person.birth_date = info.birth_date or person.birth_date
    person.sex = info.sex or person.sex
    person.household_region_code = info.region_code or person.household_region_code
    person.nationality = (nationality or "CHN").upper()
    person.is_floating = not (
        document_type == "resident_id" and info.region_code in local_region_codes()
    )
    if canonical_phone:
        person.phone_enc, person.phone_blind_index, person.phone_masked = (
            crypto.protect_phone(canonical_phone)
        )
    db.session.flush()
    return person
