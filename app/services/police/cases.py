"""The pre-case cross-check (案前比对): case-involved persons imported by case number and document,
each decided registered-before-the-case or not (with the evidence), a floating person's miss
becoming a 漏登 trace-back task (missed.py). Column layout: docs/IMPORTS.md."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import crypto
from app.extensions import db
from app.identity import DOCUMENT_TYPE_LABELS, IdentityError, check_document
from app.models import CaseCheck, Officer, Person, Station, utcnow
from app.services.accounts.scoping import scope
from app.services.declarations.declare import local_midnight_utc, local_today
from app.services.errors import RuleError
from app.services.people.people import document_blind_index, local_region_codes
from app.services.police import missed as missed_service
from app.services.police.registered import registration_evidence
from app.services.police.watch import TYPE_CODES, _date, _text

COLUMNS = {"证件类型": "document_type", "证件号码": "document_number", "姓名": "name",
           "案件编号": "case_number", "案发日期": "case_date",
           "案发地派出所代码": "station_code", "是否流动人口": "is_floating"}
REQUIRED = ("证件类型", "证件号码", "姓名", "案件编号", "案发日期", "案发地派出所代码")
YES = {"是", "y", "yes", "1", "true", "流动"}
NO = {"否", "n", "no", "0", "false", "常住"}
MAX_ERRORS = 200  # reasons kept on an import (TEXT holds 64 KB; the count is complete)
EVIDENCE_KINDS = {"residence": "居住登记", "employment": "就业登记"}


@dataclass
class CaseImportReport:
    imported: int = 0
    unchanged: int = 0
    missed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    error_count: int = 0

    def fail(self, line: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append((line, reason))


def local_codes(config=None) -> set[str]:
    """户籍 region codes that are local: BRANCH_REGION_CODES, else the branches' own codes."""
    configured = str((config or {}).get("BRANCH_REGION_CODES") or "")
    codes = {c.strip() for c in configured.replace("，", ",").split(",") if c.strip()}
    return codes or local_region_codes()


def may_import(officer: Officer | None) -> bool:
    """Station admins import for their station, branch roles for the branch; the CLI for all."""
    return officer is None or officer.role in ("station_admin", "branch_admin", "system_admin")


def importable_stations(officer: Officer | None) -> dict[str, Station]:
    """Station code → station the importer may import cases for (the file's 案发地派出所代码)."""
    stmt = select(Station)
    if officer is not None:
        if officer.role == "station_admin":
            stmt = stmt.where(Station.id == (officer.station_id or -1))
        elif officer.role in ("branch_admin", "system_admin"):
            stmt = stmt.where(Station.branch_id == officer.branch_id)
        else:
            return {}
    return {s.code: s for s in db.session.execute(stmt).scalars()}


def import_rows(rows: list[tuple[int, dict]], *, officer: Officer | None = None,
                config=None, import_id: int | None = None, now: datetime | None = None,
                report: CaseImportReport | None = None) -> CaseImportReport:
    """Import case persons: bad rows reported by line with the reason, good ones decided and
    stored; keyed by case number + document, so the same file again changes nothing."""
    now = now or utcnow()
    report = report or CaseImportReport()
    ctx = _Context(importable_stations(officer), local_codes(config), officer, import_id, now,
                   missed_service.trace_back_days(config))
    parsed = []
    for line, row in rows:
        try:
            parsed.append((line, _parse(row, ctx)))
        except RuleError as exc:
            report.fail(line, exc.message)
    known, persons = _lookups([p for _, p in parsed])
    for line, row in parsed:
        if row.key in known:
            report.unchanged += 1
            continue
        try:
            with db.session.begin_nested():
                _store(row, persons.get((row.document_type, row.blind)), ctx, report)
        except IntegrityError:  # a concurrent import stored the same key first
            report.unchanged += 1
        known.add(row.key)
    return report


@dataclass
class _Context:
    stations: dict
    local: set
    officer: Officer | None
    import_id: int | None
    now: datetime
    trace_back_days: int
    districts: dict = field(default_factory=dict)

    def district(self, station_id: int) -> list[int]:
        """The station ids of the station's branch (the district), read once per import."""
        if station_id not in self.districts:
            self.districts[station_id] = _district(station_id)
        return self.districts[station_id]


@dataclass(frozen=True)
class _Row:
    document_type: str
    number: str
    blind: str
    name: str
    case_number: str
    case_date: date
    station_id: int
    is_floating: bool

    @property
    def key(self) -> tuple:
        return (self.case_number, self.document_type, self.blind)


def _district(station_id: int) -> list[int]:
    branch = select(Station.branch_id).where(Station.id == station_id).scalar_subquery()
    return list(db.session.execute(select(Station.id).where(Station.branch_id == branch))
                .scalars())


def _floating(value, document_type: str, region_code: str | None, local: set) -> bool:
    text = "" if value is None else str(value).strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    if text:
        raise RuleError("是否流动人口", "是否流动人口应填“是”或“否”，或留空按户籍地判断")
    # Empty: a mainland resident whose 户籍 lies outside the district is floating; any other
    # document (HMT permit, passport …) is not a local household register at all.
    return not (document_type == "resident_id" and region_code in local)


def _parse(row: dict, ctx: _Context) -> _Row:
    document_type = TYPE_CODES.get(_text(row.get("证件类型"), "证件类型", 16))
    if document_type is None:
        raise RuleError("证件类型", "证件类型应为：" + "、".join(DOCUMENT_TYPE_LABELS.values()))
    try:
        info = check_document(document_type, _text(row.get("证件号码"), "证件号码", 32))
    except IdentityError as exc:
        raise RuleError("证件号码", f"证件号码：{exc.message}") from None
    name = _text(row.get("姓名"), "姓名", 64)
    case_number = _text(row.get("案件编号"), "案件编号", 64)
    case_date = _date(row.get("案发日期"), "案发日期")
    if case_date is None:
        raise RuleError("案发日期", "缺少案发日期")
    if case_date > local_today(ctx.now):
        raise RuleError("案发日期", "案发日期不能晚于今天")
    station = ctx.stations.get(_text(row.get("案发地派出所代码"), "案发地派出所代码", 32))
    if station is None:
        raise RuleError("案发地派出所代码", "案发地派出所代码不存在或不在您的管辖范围")
    is_floating = _floating(row.get("是否流动人口"), document_type, info.region_code, ctx.local)
    return _Row(document_type, info.number, document_blind_index(document_type, info.number),
                name, case_number, case_date, station.id, is_floating)


def _lookups(rows: list[_Row]) -> tuple[set, dict]:
    """The case keys already stored and the persons on record, for the blind indexes of rows
    (one query per thousand instead of two per row)."""
    blinds = sorted({r.blind for r in rows})
    known, persons = set(), {}
    for i in range(0, len(blinds), 1000):
        part = blinds[i:i + 1000]
        known.update(db.session.execute(select(
            CaseCheck.case_number, CaseCheck.document_type, CaseCheck.document_blind_index)
            .where(CaseCheck.document_blind_index.in_(part))).tuples())
        persons.update(((t, b), pid) for t, b, pid in db.session.execute(select(
            Person.document_type, Person.document_blind_index, Person.id)
            .where(Person.document_blind_index.in_(part))))
    return known, persons


def _store(row: _Row, person_id: int | None, ctx: _Context, report: CaseImportReport) -> None:
    enc, blind, masked = crypto.protect_document(row.document_type, row.number)
    check = CaseCheck(document_type=row.document_type, document_number_enc=enc,
                      document_blind_index=blind, document_masked=masked, name=row.name,
                      case_number=row.case_number, case_date=row.case_date,
                      station_id=row.station_id, person_id=person_id,
                      is_floating=row.is_floating,
                      imported_by_officer_id=ctx.officer.id if ctx.officer else None,
                      import_id=ctx.import_id)
    decide(check, now=ctx.now, district=ctx.district(row.station_id), flush=False)
    db.session.add(check)
    db.session.flush()
    report.imported += 1
    if not check.registered_before_case and check.is_floating:
        missed_service.open_for_case(check, days=ctx.trace_back_days, now=ctx.now, fresh=True)
        report.missed += 1


def decide(check: CaseCheck, now: datetime | None = None, *, district=None,
           flush: bool = True) -> CaseCheck:
    """Registered before the case: a residence or employment in the district (the stations of
    the case station's branch) declared on or before the local case date, not rejected or
    withdrawn, whose stay covers that date. Stores the decision and its evidence."""
    evidence = registration_evidence(
        check.person_id, local_midnight_utc(check.case_date + timedelta(days=1)),
        check.case_date, station_ids=district or _district(check.station_id),
        with_employment=True)
    check.registered_before_case = evidence is not None
    check.evidence_kind = evidence.kind if evidence else None
    check.evidence_record_id = evidence.record_id if evidence else None
    check.evidence_declaration_id = evidence.declaration_id if evidence else None
    check.evidence_submitted_at = evidence.submitted_at if evidence else None
    check.decided_at = now or utcnow()
    if flush:
        db.session.flush()
    return check


def case_checks_for(officer: Officer, *, registered: bool | None = None,
                    case_number: str | None = None, date_from: date | None = None,
                    date_to: date | None = None, import_id: int | None = None,
                    page: int = 1, per_page: int = 50) -> tuple[list[CaseCheck], bool]:
    """The case persons in the officer's area (scoping), newest case first: (rows, has_next)."""
    stmt = scope(CaseCheck, select(CaseCheck), officer)
    if registered is not None:
        stmt = stmt.where(CaseCheck.registered_before_case.is_(registered))
    if case_number:
        stmt = stmt.where(CaseCheck.case_number == case_number.strip()[:64])
    if date_from:
        stmt = stmt.where(CaseCheck.case_date >= date_from)
    if date_to:
        stmt = stmt.where(CaseCheck.case_date <= date_to)
    if import_id:
        stmt = stmt.where(CaseCheck.import_id == import_id)
    stmt = stmt.order_by(CaseCheck.case_date.desc(), CaseCheck.id.desc())
    rows = db.session.execute(
        stmt.offset((max(page, 1) - 1) * per_page).limit(per_page + 1)).scalars().all()
    return rows[:per_page], len(rows) > per_page
