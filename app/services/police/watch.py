"""The watch list (关注人员): persons listed by the blind index of their document (the number
itself is never stored), imported from CSV/XLSX (docs/IMPORTS.md) or listed and delisted by
hand; a listing is matched against every live residence and employment in the district."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zipfile import BadZipFile

from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.identity import IdentityError, check_document
from app.models import Officer, Watch, utcnow
from app.identity import DOCUMENT_TYPE_LABELS
from app.services.accounts import audit
from app.services.accounts.scoping import scope
from app.services.errors import RuleError
from app.services.people.people import document_blind_index
from app.services.police import tasks as task_service

BEIJING = timedelta(hours=8)  # China has no daylight saving: local midnight is 16:00 UTC
COLUMNS = {"证件类型": "document_type", "证件号码": "document_number", "姓名": "name",
           "类别": "category", "来源": "source", "列管日期": "listed_on", "撤管日期": "delisted_on"}
REQUIRED = ("证件类型", "证件号码", "姓名", "类别", "来源", "列管日期")
TYPE_CODES = {**{label: code for code, label in DOCUMENT_TYPE_LABELS.items()},
              **{code: code for code in DOCUMENT_TYPE_LABELS}, "身份证": "resident_id"}
MAX_ROWS = 50_000


@dataclass
class WatchImportReport:
    imported: int = 0
    delisted: int = 0
    unchanged: int = 0
    tasks: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _local_midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day) - BEIJING


def _date(value, label: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("/", "-").replace(".", "-")
    try:
        return date.fromisoformat("-".join(part.zfill(2) for part in text.split("-")))
    except ValueError:
        raise RuleError(label, f"{label}应为日期，如 2026-11-01") from None


def _text(value, label: str, limit: int, required: bool = True) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise RuleError(label, f"缺少{label}")
    if len(text) > limit:
        raise RuleError(label, f"{label}不超过 {limit} 字")
    return text


def _blind(document_type: str, number: str) -> str:
    try:
        info = check_document(document_type, number)
    except IdentityError as exc:
        raise RuleError("证件号码", exc.message) from None
    return document_blind_index(document_type, info.number)


def find_listing(document_type: str, blind_index: str, category: str) -> Watch | None:
    """The listing of this document under this category (the import's key), live or not."""
    return db.session.execute(select(Watch).where(
        Watch.document_type == document_type, Watch.document_blind_index == blind_index,
        Watch.category == category).order_by(Watch.id.desc()).limit(1)).scalar()


def list_person(*, document_type: str, document_number: str, name: str, category: str,
                source: str, reason: str | None = None, listed_on: date | None = None,
                delisted_on: date | None = None,
                now: datetime | None = None) -> tuple[Watch, list]:
    """列管: list a person (or return the live listing under this category) and open control
    tasks for every live residence and employment in the district: (watch, new tasks)."""
    now = now or utcnow()
    document_type = TYPE_CODES.get((document_type or "").strip())
    if document_type is None:
        raise RuleError("证件类型", "证件类型应为：" + "、".join(DOCUMENT_TYPE_LABELS.values()))
    blind = _blind(document_type, _text(document_number, "证件号码", 32))
    name = _text(name, "姓名", 64)
    category = _text(category, "类别", 32)
    source = _text(source, "来源", 64)
    watch = find_listing(document_type, blind, category)
    if watch is not None and watch.delisted_at is None:
        return watch, []
    watch = Watch(document_type=document_type, document_blind_index=blind, name=name,
                  category=category, source=source, list_reason=(reason or None),
                  listed_at=_local_midnight_utc(listed_on) if listed_on else now)
    if delisted_on is not None:  # imported already delisted: a record, nothing to match
        watch.delisted_at, watch.delist_reason = _local_midnight_utc(delisted_on), "导入撤管"
    db.session.add(watch)
    db.session.flush()
    return watch, task_service.match_watch(watch, now=now)


def delist(watch: Watch, reason: str, now: datetime | None = None) -> int:
    """撤管: end a listing with a reason; its open control tasks are cancelled. Returns how many."""
    reason = (reason or "").strip()
    if not reason:
        raise RuleError("reason", "请填写撤管原因")
    if watch.delisted_at is not None:
        raise RuleError("reason", "该人员已撤管")
    watch.delisted_at, watch.delist_reason = now or utcnow(), reason[:2000]
    db.session.flush()
    return task_service.cancel_for_delisting(watch, reason, now)


def read_table(filename: str, data: bytes, columns=COLUMNS,
               required=REQUIRED) -> list[tuple[int, dict]]:
    """Rows of a CSV (UTF-8 or GB18030) or XLSX file as (line number, {column: value}), by the
    Chinese headers of docs/IMPORTS.md (the watch list's unless others are given)."""
    name = (filename or "").lower()
    if name.endswith(".xlsx"):
        rows = _xlsx_rows(data)
    elif name.endswith(".csv"):
        rows = _csv_rows(data)
    else:
        raise RuleError("file", "请上传 .csv 或 .xlsx 文件")
    try:
        header = next(rows)
    except StopIteration:
        raise RuleError("file", "文件是空的") from None
    header = [str(h or "").strip().lstrip("\ufeff") for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise RuleError("file", "缺少列：" + "、".join(missing))
    out = []
    for line, values in enumerate(rows, start=2):
        if not any(v not in (None, "") and str(v).strip() for v in values):
            continue
        if len(out) >= MAX_ROWS:
            raise RuleError("file", f"一次最多导入 {MAX_ROWS} 行")
        out.append((line, {h: (values[i] if i < len(values) else None)
                           for i, h in enumerate(header) if h in columns}))
    return out


def _csv_rows(data: bytes):
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RuleError("file", "无法识别文件编码，请另存为 UTF-8 的 CSV")
    return iter(list(csv.reader(io.StringIO(text))))


def _xlsx_rows(data: bytes):
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError):
        raise RuleError("file", "无法读取该 Excel 文件（须为 .xlsx）") from None
    sheet = book.worksheets[0]
    return iter([list(row) for row in sheet.iter_rows(values_only=True)])


def import_rows(rows: list[tuple[int, dict]], now: datetime | None = None) -> WatchImportReport:
    """Import watch-list rows: bad rows are reported by line with the reason, good ones listed;
    keyed by document blind index + category, so importing the same file again changes
    nothing. A row with 撤管日期 delists the listing."""
    now = now or utcnow()
    report = WatchImportReport()
    for line, row in rows:
        try:
            with db.session.begin_nested():
                _import_row(row, now, report)
        except RuleError as exc:
            report.errors.append((line, exc.message))
    return report


def _import_row(row: dict, now: datetime, report: WatchImportReport) -> None:
    listed_on = _date(row.get("列管日期"), "列管日期")
    if listed_on is None:
        raise RuleError("列管日期", "缺少列管日期")
    delisted_on = _date(row.get("撤管日期"), "撤管日期")
    if delisted_on is not None and delisted_on < listed_on:
        raise RuleError("撤管日期", "撤管日期不能早于列管日期")
    document_type = TYPE_CODES.get(_text(row.get("证件类型"), "证件类型", 16))
    if document_type is None:
        raise RuleError("证件类型", "证件类型应为：" + "、".join(DOCUMENT_TYPE_LABELS.values()))
    category = _text(row.get("类别"), "类别", 32)
    blind = _blind(document_type, _text(row.get("证件号码"), "证件号码", 32))
    existing = find_listing(document_type, blind, category)
    if existing is not None:
        if delisted_on is not None and existing.delisted_at is None:
            delist(existing, "导入撤管", now=_local_midnight_utc(delisted_on))
            report.delisted += 1
        else:
            report.unchanged += 1
        return
    watch, created = list_person(document_type=document_type,
                                 document_number=str(row.get("证件号码")).strip(),
                                 name=row.get("姓名"), category=category,
                                 source=row.get("来源"), reason="导入", listed_on=listed_on,
                                 delisted_on=delisted_on, now=now)
    report.delisted += delisted_on is not None
    report.imported += 1
    report.tasks += len(created)


def watches_for(officer: Officer, *, status: str = "live", page: int = 1,
                per_page: int = 50) -> tuple[list[Watch], bool]:
    """The watch list as this officer may see it (scoping.scope_watches), newest first."""
    stmt = scope(Watch, select(Watch), officer)
    if status == "live":
        stmt = stmt.where(Watch.delisted_at.is_(None))
    elif status == "delisted":
        stmt = stmt.where(Watch.delisted_at.is_not(None))
    stmt = stmt.order_by(Watch.listed_at.desc(), Watch.id.desc())
    rows = db.session.execute(
        stmt.offset((max(page, 1) - 1) * per_page).limit(per_page + 1)).scalars().all()
    return rows[:per_page], len(rows) > per_page


def may_manage(officer: Officer) -> bool:
    """列管 / 撤管 and imports: station admin and above."""
    return officer.role in ("station_admin", "branch_admin", "system_admin")


def list_person_audited(officer: Officer, *, ip: str | None, **fields) -> tuple[Watch, list]:
    """列管 by hand with its audit row (the reason, and how many tasks it made)."""
    entry, created = list_person(**fields)
    audit.record(officer, "watch.list", "watch", entry.id, reason=fields["reason"][:200], ip=ip,
                 detail={"category": entry.category, "tasks": len(created)})
    return entry, created


def delist_audited(officer: Officer, watch: Watch, reason: str, *, ip: str | None) -> int:
    """撤管 with its audit row; returns how many open tasks were cancelled."""
    cancelled = delist(watch, reason)
    audit.record(officer, "watch.delist", "watch", watch.id, reason=reason[:200], ip=ip,
                 detail={"tasks_cancelled": cancelled})
    return cancelled


def import_file_audited(officer: Officer, filename: str, data: bytes, *,
                        ip: str | None) -> WatchImportReport:
    """Read and import an uploaded watch-list table, with its audit row; RuleError when the
    file itself cannot be read."""
    report = import_rows(read_table(filename, data))
    audit.record(officer, "watch.import", "watch", None, ip=ip,
                 detail={"imported": report.imported, "delisted": report.delisted,
                         "unchanged": report.unchanged, "errors": len(report.errors)})
    return report
