"""Case imports (案前比对导入) as records with progress: a small file imports at once, a large one
(over CASE_IMPORT_INLINE_ROWS rows) waits in CASE_IMPORT_FOLDER for a job (outbox → workers)
that imports it in chunks, committing progress the console page shows."""
from __future__ import annotations

import os
import secrets
from datetime import datetime

from app.extensions import db
from app.models import CaseImport, Officer, utcnow
from app.outbox import jobs
from app.services.errors import RuleError
from app.services.police import cases
from app.services.police.watch import read_table

CHUNK = 200  # rows per committed step of the job: a crash repeats at most one chunk
DEFAULT_INLINE_ROWS = 500
JOB = "workers.police_jobs.run_case_import"


def read_rows(filename: str, data: bytes) -> list[tuple[int, dict]]:
    """The file's rows by the 案前比对 columns of docs/IMPORTS.md (RuleError "file" if unusable)."""
    return read_table(filename, data, columns=cases.COLUMNS, required=cases.REQUIRED)


def start_import(officer: Officer | None, filename: str, data: bytes, *, config=None,
                 now: datetime | None = None) -> CaseImport:
    """Record an upload and import it now, or, when large, keep the file and promise the job."""
    config = config or {}
    if not cases.may_import(officer):
        raise RuleError("file", "只有派出所或分局管理员可以导入案件人员")
    rows = read_rows(filename, data)
    if not rows:
        raise RuleError("file", "文件中没有数据行")
    record = CaseImport(officer_id=officer.id if officer else None,
                        filename=os.path.basename(filename or "")[:255] or "upload",
                        status="pending", total=len(rows), processed=0, imported=0,
                        unchanged=0, missed=0, error_count=0)
    db.session.add(record)
    db.session.flush()
    inline = int(config.get("CASE_IMPORT_INLINE_ROWS") or DEFAULT_INLINE_ROWS)
    if len(rows) <= inline:
        _run(record, rows, officer, config, now)
        return record
    folder = config.get("CASE_IMPORT_FOLDER") or "instance/case_imports"
    os.makedirs(folder, exist_ok=True)
    ext = ".xlsx" if filename.lower().endswith(".xlsx") else ".csv"
    record.path = os.path.join(folder, f"{record.id}-{secrets.token_hex(8)}{ext}")
    with open(record.path, "wb") as fh:
        fh.write(data)
    jobs.after_commit(JOB, record.id, queue="default")
    return record


def _run(record: CaseImport, rows: list, officer: Officer | None, config,
         now: datetime | None, commit=None) -> None:
    """Import rows[record.processed:] in chunks; `commit` (the job's) after each chunk."""
    record.status = "running"
    report = cases.CaseImportReport(errors=[tuple(e) for e in (record.errors or [])],
                                    error_count=record.error_count)
    for start in range(record.processed, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        report.imported = report.unchanged = report.missed = 0
        cases.import_rows(chunk, officer=officer, config=config, import_id=record.id, now=now,
                          report=report)
        record.processed = start + len(chunk)
        record.imported += report.imported
        record.unchanged += report.unchanged
        record.missed += report.missed
        record.errors = [list(e) for e in report.errors] or None
        record.error_count = report.error_count
        if commit is not None:
            commit()
    record.status, record.finished_at = "done", utcnow()
    db.session.flush()


def run_import(import_id: int, *, config=None, commit=None) -> CaseImport | None:
    """The job's work: import the kept file from where an earlier attempt stopped; idempotent
    (a finished import is left alone, rows already in are unchanged)."""
    record = db.session.get(CaseImport, import_id)
    if record is None or record.status == "done":
        return record
    officer = db.session.get(Officer, record.officer_id) if record.officer_id else None
    try:
        with open(record.path or "", "rb") as fh:
            rows = read_rows(record.filename, fh.read())
    except (OSError, RuleError) as exc:
        record.status, record.finished_at = "failed", utcnow()
        record.errors = [[0, getattr(exc, "message", None) or "导入文件已丢失，请重新上传"]]
        db.session.flush()
        return record
    _run(record, rows, officer, config, None, commit=commit)
    try:
        os.remove(record.path)
    except OSError:
        pass
    record.path = None
    db.session.flush()
    return record


def progress(record: CaseImport) -> int:
    """Percent of rows processed (0–100)."""
    return 100 if not record.total else min(100, record.processed * 100 // record.total)
