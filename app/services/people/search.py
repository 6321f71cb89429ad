"""Console search (document number by blind index, name, phone, address text, receipt code)
and the house and person timelines. Every query goes through the scoping layer."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from app import crypto
from app.extensions import db
from app.models import Address, Declaration, House, Officer, Person, Residence
from app.identity import DOCUMENT_TYPE_LABELS, DOCUMENT_TYPES
from app.services.accounts import audit, scoping
from app.identity import IdentityError, check_document
from app.services.errors import RuleError
from app.services.people.people import document_blind_index

SEARCH_KINDS = {
    "auto": "自动识别",
    "document": "证件号码",
    "name": "姓名",
    "phone": "手机号码",
    "address": "地址",
    "receipt": "申报回执号",
}
LIMIT = 200
_RECEIPT = re.compile(r"^[A-Z0-9]{6,16}$")


@dataclass
class SearchResult:
    kind: str
    persons: list[Person] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    declarations: list[Declaration] = field(default_factory=list)
    address_match: str = "prefix"  # "prefix" or "contains": see addresses_matching

    @property
    def empty(self) -> bool:
        return not (self.persons or self.addresses or self.declarations)


def detect_kind(query: str) -> str:
    """Guess what an officer typed: phone, document number, receipt code, name or address."""
    q = crypto.normalise(query)
    if re.fullmatch(r"1\d{10}", q):
        return "phone"
    if re.fullmatch(r"\d{15}|\d{17}[\dX]", q):
        return "document"
    if re.fullmatch(r"[A-Z]{1,2}\d{6,10}", q):
        return "document"  # passports and permits
    if _RECEIPT.fullmatch(q) and not q.isdigit():
        return "receipt"
    if re.search(r"\d|路|街|号|幢|栋|单元|室|村|弄|巷", query):
        return "address"
    return "name"


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def person_statement(kind: str, query: str, officer: Officer):
    """The select of a person search in the area: "document" (blind index of every document
    type), "phone" (blind index) or "name" (starts with the text, the name index)."""
    if kind == "document":
        where = or_(*[and_(Person.document_type == t, Person.document_blind_index ==
                           document_blind_index(t, _canonical(t, query))) for t in DOCUMENT_TYPES])
        order = (Person.id,)
    elif kind == "phone":
        where, order = Person.phone_blind_index == crypto.blind_index("phone", query), (Person.id,)
    else:
        where = Person.name.like(_like(query.strip()) + "%", escape="\\")
        order = (Person.name, Person.id)
    return scoping.scope_persons(select(Person).where(where), officer).order_by(*order).limit(LIMIT)


def persons_by_document(number: str, officer: Officer, session=None) -> list[Person]:
    """People in the area holding this document number, matched by blind index of every type."""
    return list((session or db.session).execute(
        person_statement("document", number, officer)).scalars())


def _canonical(document_type: str, number: str) -> str:
    # The stored form: a 15-digit first-generation ID is kept upgraded to its 18 digits.
    try:
        return check_document(document_type, number).number
    except IdentityError:
        return number


def persons_by_phone(phone: str, officer: Officer, session=None) -> list[Person]:
    """People in the area with this phone number, matched by blind index."""
    return list((session or db.session).execute(
        person_statement("phone", phone, officer)).scalars())


def persons_by_name(name: str, officer: Officer, session=None) -> list[Person]:
    """People in the area whose name starts with the text (uses the name index)."""
    return list((session or db.session).execute(
        person_statement("name", name, officer)).scalars())


def address_statements(text: str, officer: Officer, community_id: int | None = None) -> dict:
    """The selects of an address search: "prefix" (full text starts with the text, a range of
    the index ix_address_station_text / ix_address_community_text), "code" (the door-plate
    code) and "contains" (the text anywhere: a scan of the area's addresses)."""
    text = text.strip()
    base = select(Address)
    if community_id:
        base = base.where(Address.community_id == community_id)
    base = scoping.scope_addresses(base, officer)
    pattern = _like(text)
    return {"prefix": base.where(Address.full_text.like(pattern + "%", escape="\\")),
            "code": base.where(Address.code == text),
            "contains": base.where(Address.full_text.like("%" + pattern + "%", escape="\\"))}


def addresses_matching(text: str, officer: Officer, community_id: int | None = None,
                       limit: int = LIMIT, session=None) -> tuple[list[Address], str]:
    """(addresses, how) in the area for an address search: those whose full text starts with
    the text or whose code is the text (how = "prefix"); only when there are none, those whose
    full text contains it (how = "contains") — a city's million addresses are read in index
    order for a prefix, but scanned for text in the middle."""
    session = session or db.session
    if not text.strip():
        stmt = scoping.scope_addresses(select(Address), officer)
        if community_id:
            stmt = stmt.where(Address.community_id == community_id)
        return list(session.execute(stmt.order_by(Address.full_text, Address.id)
                                    .limit(limit)).scalars()), "prefix"
    stmts = address_statements(text, officer, community_id)
    found = {a.id: a for key in ("code", "prefix") for a in session.execute(
        stmts[key].order_by(Address.full_text, Address.id).limit(limit)).scalars()}
    how = "prefix"
    if not found:
        how = "contains"
        found = {a.id: a for a in session.execute(
            stmts["contains"].order_by(Address.full_text, Address.id).limit(limit)).scalars()}
    ordered = sorted(found.values(), key=lambda a: (a.full_text, a.id))[:limit]
    return ordered, how


def addresses_by_text(text: str, officer: Officer, community_id: int | None = None,
                      limit: int = LIMIT, session=None) -> list[Address]:
    """Addresses in the area for the text (see addresses_matching)."""
    return addresses_matching(text, officer, community_id, limit, session)[0]


def declarations_by_receipt(code: str, officer: Officer, session=None) -> list[Declaration]:
    """The declaration in the area with this receipt code."""
    stmt = scoping.scope_declarations(
        select(Declaration).where(Declaration.receipt_code == crypto.normalise(code)), officer)
    return list((session or db.session).execute(stmt).scalars())


def search(query: str, officer: Officer, kind: str = "auto", session=None) -> SearchResult:
    """Run one console search of the given kind (or the detected one), limited to the area.

    `session` is where to read (the read replica for the console); the primary by default.
    """
    query = (query or "").strip()[:100]
    if kind not in SEARCH_KINDS:
        kind = "auto"
    auto = kind == "auto"
    if auto:
        kind = detect_kind(query) if query else "name"
    result = SearchResult(kind=kind)
    if not query:
        return result
    if kind == "document":
        result.persons = persons_by_document(query, officer, session)
        if auto and _RECEIPT.fullmatch(crypto.normalise(query)):
            # "AB234567" is both a passport-like number and a receipt code: look for both.
            result.declarations = declarations_by_receipt(query, officer, session)
    elif kind == "phone":
        result.persons = persons_by_phone(query, officer, session)
    elif kind == "name":
        result.persons = persons_by_name(query, officer, session)
    elif kind == "address":
        result.addresses, result.address_match = addresses_matching(query, officer,
                                                                    session=session)
    elif kind == "receipt":
        result.declarations = declarations_by_receipt(query, officer, session)
    return result


def house_timeline(house: House) -> list[Residence]:
    """Who lived in the house and when, oldest first, with who declared each stay."""
    stmt = (select(Residence).where(Residence.house_id == house.id)
            .options(selectinload(Residence.person))
            .order_by(Residence.start_date, Residence.id))
    return list(db.session.execute(stmt).scalars())


RESIDENCE_STATUS_ORDER = {"active": 0, "pending": 1, "ended": 2}


def current_places(persons: list[Person], officer: Officer,
                   session=None) -> dict[int, Residence]:
    """Each person's latest stay in the officer's area (an active one first), for result lists."""
    ids = [p.id for p in persons]
    if not ids:
        return {}
    stmt = scoping.scope_residences(
        select(Residence).where(Residence.person_id.in_(ids))
        .options(selectinload(Residence.house).selectinload(House.address)), officer)
    places: dict[int, Residence] = {}
    for r in (session or db.session).execute(stmt.order_by(Residence.start_date.desc(),
                                              Residence.id.desc())).scalars():
        best = places.get(r.person_id)
        if best is None or (RESIDENCE_STATUS_ORDER.get(r.status, 9)
                            < RESIDENCE_STATUS_ORDER.get(best.status, 9)):
            places[r.person_id] = r
    return places


def person_timeline(person: Person, officer: Officer) -> list[Residence]:
    """Where and when the person lived within the officer's area, newest first."""
    stmt = scoping.scope_residences(
        select(Residence).where(Residence.person_id == person.id)
        .options(selectinload(Residence.house).selectinload(House.address)), officer)
    return list(db.session.execute(
        stmt.order_by(Residence.start_date.desc(), Residence.id.desc())).scalars())


EXPORT_HEADER = ["姓名", "证件类型", "证件号码", "手机号码", "出生年份", "流动人口"]
FULL_EXPORT_HEADER = ["姓名", "证件类型", "证件号码", "手机号码", "出生日期", "流动人口"]


def export_search(officer: Officer, query: str, kind: str, *, full: bool, reason: str,
                  ip: str | None, session=None) -> str:
    """The CSV of a person search, audited: masked for officers; full numbers only for an
    administrator who gives a reason (at least 4 characters). Rows are read through `session`
    (the replica when there is one); the audit row goes to the primary."""
    full = full and officer.role in scoping.ADMIN_ROLES
    reason = reason.strip()
    if full and len(reason) < 4:
        raise RuleError("reason", "导出完整信息须填写理由（至少 4 个字）")
    result = search(query, officer, kind, session=session)
    body = export_persons_csv(result.persons, full=full)
    audit.record(officer, "search.export_full" if full else "search.export", "person", None,
                 reason=reason or None, ip=ip,
                 detail={"kind": result.kind, "count": len(result.persons)})
    return body


def export_persons_csv(persons: list[Person], full: bool) -> str:
    """CSV of a search result; masked unless full (only for roles allowed to, with a reason).

    A masked export carries the birth year only: the full date is the masked part of the ID.
    """
    out = io.StringIO()
    out.write("\ufeff")  # Excel needs the BOM to read UTF-8
    writer = csv.writer(out)
    writer.writerow(FULL_EXPORT_HEADER if full else EXPORT_HEADER)
    for p in persons:
        if full:
            document = crypto.decrypt(p.document_number_enc)
            phone = crypto.decrypt(p.phone_enc) if p.phone_enc else ""
            name = p.name
            born = p.birth_date.isoformat() if p.birth_date else ""
        else:
            document, phone = p.document_masked, p.phone_masked or ""
            name = crypto.mask_name(p.name)
            born = str(p.birth_date.year) if p.birth_date else ""
        doc_type = DOCUMENT_TYPE_LABELS.get(p.document_type, p.document_type)
        writer.writerow([_safe_cell(name), doc_type, document, phone, born,
                         "是" if p.is_floating else "否"])
    return out.getvalue()


def _safe_cell(value: str) -> str:
    # A cell starting with = + - @ is run as a formula by spreadsheet programs.
    return "'" + value if value and value[0] in "=+-@" else value
