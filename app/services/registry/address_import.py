"""Standard address registry import: validate every row, insert new codes, update changed ones.

The import is keyed by address code and idempotent: running the same file twice changes nothing
the second time. Door-plate tokens (`qr_token`) are made once, at insert, and never touched by a
later import, because plates already printed carry them. Columns are described in
docs/ADDRESS_IMPORT.md.

Unlike other services this one commits (per batch) when `commit=True`: a registry import can be
hundreds of thousands of rows, one transaction that size holds locks for the whole run, and a
re-run of the same file finishes whatever an interrupted run left, so partial progress is safe.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Collection, Iterable, Iterator

from sqlalchemy import bindparam, insert, select, update

from app.extensions import db
from app.models import utcnow
from app.models.address import new_qr_tokens
from app.services.registry.address_rows import (
    ALWAYS_WRITTEN, COLUMNS, TEXT_FIELDS, Row, check_parents, clean_code, clean_text, code_key,
    column_name, communities_by_name, csv_reader, header_problem, numbered_csv_rows, parse_row,
    syntax_problem, table,
)


@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    total: int = 0
    # (line number, reason in Chinese); one entry per rejected row.
    errors: list[tuple[int, str]] = field(default_factory=list)


def import_csv(path: str, batch_size: int = 2000, commit: bool = True,
               community_ids: Collection[int] | None = None) -> ImportReport:
    """Import a UTF-8 CSV (BOM optional) of standard addresses; commits per batch by default.

    With `community_ids`, rows that would create or change an address outside those communities,
    or hang one under an address outside them, are refused (an administrator imports only into
    the area they cover). A file the CSV parser cannot read is refused whole, before any write.
    """
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        return ImportReport(errors=[(line, "文件不是 UTF-8 编码（用 Excel 保存时请选择“CSV UTF-8”格式）")])
    problem = syntax_problem(text)
    if problem:
        return ImportReport(errors=[problem])
    reader = csv_reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return ImportReport(errors=[(1, "文件为空，缺少表头")])
    columns = [column_name(name) for name in header]
    problem = header_problem(columns)
    if problem:
        return ImportReport(errors=[(1, problem)])
    return _import(numbered_csv_rows(reader, columns), batch_size, commit, community_ids)


def import_rows(rows: Iterable[dict], batch_size: int = 2000, commit: bool = True,
                first_line: int = 1, community_ids: Collection[int] | None = None) -> ImportReport:
    """Import addresses given as dicts keyed by the CSV column names (for tests and demo data)."""
    def numbered() -> Iterator[tuple[int, dict | str]]:
        for line, row in enumerate(rows, first_line):
            values = {column_name(k): v for k, v in row.items()}
            unknown = [k for k in values if k not in COLUMNS]
            yield line, (f"未知的列：{'、'.join(unknown)}" if unknown else values)

    return _import(numbered(), batch_size, commit, community_ids)


def _existing(keys_and_codes: dict[str, str]) -> dict[str, dict]:
    """Existing addresses for these codes, keyed like the file (case-folded code)."""
    columns = [table.c.id, table.c.code, table.c.parent_id, *(
        table.c[n] for n in (*ALWAYS_WRITTEN, *TEXT_FIELDS, "aliases", "lat", "lng",
                              "is_residential"))]
    found: dict[str, dict] = {}
    codes = list(keys_and_codes.values())
    for i in range(0, len(codes), 1000):
        chunk = codes[i:i + 1000]
        for row in db.session.execute(select(*columns).where(table.c.code.in_(chunk))).mappings():
            found[code_key(row["code"])] = dict(row)
    return found


def _same(old, new) -> bool:
    if isinstance(old, float) or isinstance(new, float):
        if old is None or new is None:
            return old is None and new is None
        # lat/lng are FLOAT on MariaDB and read back with 6 significant digits (118.0876 comes
        # back as 118.088): a tighter comparison would report every coordinate as changed.
        return math.isclose(old, new, rel_tol=1e-5, abs_tol=1e-9)
    return old == new


def _import(numbered: Iterable[tuple[int, dict | str]], batch_size: int, commit: bool,
            community_ids: Collection[int] | None) -> ImportReport:
    report = ImportReport()
    communities = communities_by_name(community_ids)
    rows: dict[str, Row] = {}
    rejected: dict[str, int] = {}  # key -> line, so children can name the row that failed
    errors: dict[int, str] = {}

    for line, raw in numbered:
        report.total += 1
        if isinstance(raw, str):
            errors[line] = raw
            continue
        parsed = parse_row(line, raw, communities)
        if (community_ids is not None and not isinstance(parsed, str)
                and parsed.values["community_id"] not in community_ids):
            parsed = f"社区不在您的管辖范围内：{clean_text(raw.get('community'))}"
        if isinstance(parsed, str):
            errors[line] = parsed
            code = clean_code(raw.get("code"))
            if code:
                rejected.setdefault(code_key(code), line)
            continue
        if parsed.key in rows:
            errors[line] = f"地址编码 {parsed.code} 与第 {rows[parsed.key].line} 行重复"
            continue
        rows[parsed.key] = parsed

    lookup = {r.key: r.code for r in rows.values()}
    lookup.update({r.parent_key: r.parent_code for r in rows.values()
                   if r.parent_key and r.parent_key not in rows})
    existing = _existing(lookup)
    if community_ids is not None:
        for key in [k for k in rows if k in existing
                    and existing[k]["community_id"] not in community_ids]:
            row = rows.pop(key)
            errors[row.line] = f"地址 {row.code} 属于您管辖范围外的社区，不能修改"
        for key in [k for k, r in rows.items() if r.parent_key in existing and r.parent_key
                    not in rows and existing[r.parent_key]["community_id"] not in community_ids]:
            row = rows.pop(key)
            errors[row.line] = f"上级地址 {row.parent_code} 属于您管辖范围外的社区，不能挂靠"

    for key, reason in check_parents(rows, rejected, existing).items():
        errors[rows.pop(key).line] = reason
    report.errors = sorted(errors.items())

    ids = {key: row["id"] for key, row in existing.items()}
    new_rows = [r for r in rows.values() if r.key not in existing]
    parents = {r.parent_key for r in new_rows}
    for level_rows in _by_depth(new_rows):
        for i in range(0, len(level_rows), batch_size):
            _insert_batch(level_rows[i:i + batch_size], ids, parents)
            if commit:
                db.session.commit()
    report.inserted = len(new_rows)

    changed: dict[tuple, list[dict]] = {}
    for row in rows.values():
        old = existing.get(row.key)
        if old is None:
            continue
        values = dict(row.values)
        if row.has_parent_column:
            values["parent_id"] = ids[row.parent_key] if row.parent_key else None
        if all(_same(old[name], value) for name, value in values.items()):
            report.unchanged += 1
            continue
        values["id"] = old["id"]
        changed.setdefault(tuple(sorted(values)), []).append(values)
    now = utcnow()
    for names, params in changed.items():
        columns = [n for n in names if n != "id"]
        stmt = (update(table).where(table.c.id == bindparam("p_id"))
                .values({**{n: bindparam(f"p_{n}", type_=table.c[n].type) for n in columns},
                         "updated_at": now}))
        for i in range(0, len(params), batch_size):
            db.session.execute(stmt, [{f"p_{k}": v for k, v in p.items()}
                                      for p in params[i:i + batch_size]])
            if commit:
                db.session.commit()
        report.updated += len(params)
    return report


def _by_depth(new_rows: list[Row]) -> list[list[Row]]:
    """New rows grouped so every parent is inserted before its children (cycles are gone)."""
    new = {r.key: r for r in new_rows}
    depth: dict[str, int] = {}
    for row in new_rows:
        chain = []
        key = row.key
        while key in new and key not in depth:
            chain.append(key)
            key = new[key].parent_key
        base = depth.get(key, -1) if key in new else -1
        for k in reversed(chain):
            base += 1
            depth[k] = base
    levels: list[list[Row]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for row in new_rows:
        levels[depth[row.key]].append(row)
    return levels


INSERTED = ("code", "level", "parent_id", "community_id", "police_area_id", "station_id",
            *TEXT_FIELDS, "full_text", "aliases", "lat", "lng", "is_residential", "qr_token")


def _insert_batch(batch: list[Row], ids: dict[str, int], parents: set[str]) -> None:
    """Insert new addresses in one statement; read back the ids of those that are parents."""
    now = utcnow()
    rows = []
    for row, token in zip(batch, new_qr_tokens(len(batch))):
        values = row.values
        rows.append((row.code, values["level"], ids[row.parent_key] if row.parent_key else None,
                     values["community_id"], values["police_area_id"], values["station_id"],
                     *(values.get(name) for name in TEXT_FIELDS), values["full_text"],
                     values.get("aliases"), values.get("lat"), values.get("lng"),
                     values.get("is_residential", True), token))
    _insert_rows(rows, {"status": "active", "plate_issued_at": None, "created_at": now,
                        "updated_at": now})
    codes = [row.code for row in batch if row.key in parents]
    for i in range(0, len(codes), 1000):
        for code, id_ in db.session.execute(select(table.c.code, table.c.id)
                                            .where(table.c.code.in_(codes[i:i + 1000]))):
            ids[code_key(code)] = id_


def _insert_rows(rows: list[tuple], constants: dict) -> None:
    """One multi-row INSERT of INSERTED values (plus the same constants on every row).

    On MariaDB the VALUES list is rendered here with the driver's own escaping (PyMySQL's
    `Connection.escape`, which honours NO_BACKSLASH_ESCAPES), called once per value: the
    driver's executemany reaches it through several more layers of Python per value (parameter
    dicts, `%` formatting), which was two thirds of an import's time. SQLite gets a plain
    executemany.
    """
    connection = db.session.connection()
    dialect = connection.dialect
    if dialect.name not in ("mysql", "mariadb"):
        connection.execute(insert(table), [dict(zip(INSERTED, r), **constants) for r in rows])
        return
    raw = connection.connection.dbapi_connection
    escape = raw.escape
    processors = [(n, table.c[name].type.bind_processor(dialect))
                  for n, name in enumerate(INSERTED)]
    processors = [(n, p) for n, p in processors if p is not None]  # aliases: JSON text

    def literal(value) -> str:
        if value is None:
            return "NULL"
        if value.__class__ is int:
            return str(value)
        return escape(value)  # text, bool, float, datetime: as the driver renders them

    fixed = "".join("," + literal(value) for value in constants.values())
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in (*INSERTED, *constants))
    values = []
    for row in rows:
        if processors:
            row = list(row)
            for n, process in processors:
                row[n] = process(row[n])
        values.append("(" + ",".join(map(literal, row)) + fixed + ")")
    # The driver's own cursor without parameters: no `%` formatting pass over the values.
    with raw.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(table.name)} ({names}) VALUES " + ",".join(values))
