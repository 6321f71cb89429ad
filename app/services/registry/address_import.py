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

import csv
import io
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Collection, Iterable, Iterator

from sqlalchemy import bindparam, insert, select, update

from app.extensions import db
from app.models import Address, Community, utcnow
from app.models.address import new_qr_token

COLUMNS = ("code", "level", "parent_code", "community", "road", "number", "building", "unit",
           "floor", "room", "full_text", "aliases", "lat", "lng", "is_residential")
REQUIRED_COLUMNS = ("code", "level", "community")
TEXT_FIELDS = ("road", "number", "building", "unit", "floor", "room")
LABELS = {
    "code": "地址编码", "level": "地址级别", "parent_code": "上级地址编码", "community": "社区",
    "road": "道路", "number": "门牌号", "building": "楼栋", "unit": "单元", "floor": "楼层",
    "room": "房间", "full_text": "完整地址", "aliases": "别名", "lat": "纬度", "lng": "经度",
    "is_residential": "是否住宅",
}
LEVELS = {
    "building": "building", "楼栋": "building", "栋": "building", "幢": "building",
    "unit": "unit", "单元": "unit",
    "room": "room", "房间": "room", "室": "room",
}
# ASCII only, so that case folding is the whole of what MariaDB's collation treats as equal.
CODE_PATTERN = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]*")
TRUE_WORDS = {"1", "true", "yes", "y", "是", "住宅"}
FALSE_WORDS = {"0", "false", "no", "n", "否", "非住宅"}
# Columns compared and written besides parent_id; level and jurisdiction are always written.
ALWAYS_WRITTEN = ("level", "community_id", "police_area_id", "station_id", "full_text")
TEXT_MAX_BYTES = 65535  # aliases are JSON in a TEXT column

_table = Address.__table__
_LENGTHS = {name: _table.c[name].type.length
            for name in ("code", "level", "road", "number", "building", "unit", "floor", "room",
                         "full_text")}
_LENGTHS["parent_code"] = _LENGTHS["code"]


@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    total: int = 0
    # (line number, reason in Chinese); one entry per rejected row.
    errors: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _Row:
    line: int
    code: str
    key: str
    parent_key: str | None
    parent_code: str | None
    has_parent_column: bool
    values: dict


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
    problem = _syntax_problem(text)
    if problem:
        return ImportReport(errors=[problem])
    reader = _reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return ImportReport(errors=[(1, "文件为空，缺少表头")])
    columns = [_column_name(name) for name in header]
    problem = _header_problem(columns)
    if problem:
        return ImportReport(errors=[(1, problem)])
    return _import(_numbered_csv_rows(reader, columns), batch_size, commit, community_ids)


def import_rows(rows: Iterable[dict], batch_size: int = 2000, commit: bool = True,
                first_line: int = 1, community_ids: Collection[int] | None = None) -> ImportReport:
    """Import addresses given as dicts keyed by the CSV column names (for tests and demo data)."""
    def numbered() -> Iterator[tuple[int, dict | str]]:
        for line, row in enumerate(rows, first_line):
            values = {_column_name(k): v for k, v in row.items()}
            unknown = [k for k in values if k not in COLUMNS]
            yield line, (f"未知的列：{'、'.join(unknown)}" if unknown else values)

    return _import(numbered(), batch_size, commit, community_ids)


def _reader(text: str):
    # strict: an unbalanced quote is an error, not a field that silently swallows later rows.
    return csv.reader(io.StringIO(text, newline=""), strict=True)


def _syntax_problem(text: str) -> tuple[int, str] | None:
    """(line, reason) of the first row the CSV parser refuses, so that a file it cannot read
    (an unbalanced quote, a field over the parser's size limit) is refused before any write."""
    reader = _reader(text)
    while True:
        line = reader.line_num + 1  # a quoted cell may span lines: report where the row starts
        try:
            next(reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            reason = (f"单元格超过 {csv.field_size_limit()} 个字符" if "field limit" in str(exc)
                      else f"无法解析（{exc}）")
            what = "表头" if line == 1 else "该行"
            return line, f"{what}{reason}，整个文件未导入"


def _column_name(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


def _header_problem(columns: list[str]) -> str | None:
    reasons = []
    unknown = [c for c in columns if c and c not in COLUMNS]
    if unknown:
        reasons.append(f"未知的列：{'、'.join(unknown)}（可用的列：{', '.join(COLUMNS)}）")
    duplicated = sorted({c for c in columns if c and columns.count(c) > 1})
    if duplicated:
        reasons.append(f"重复的列：{'、'.join(duplicated)}")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        reasons.append(f"缺少必需的列：{'、'.join(missing)}")
    return "；".join(reasons) + "，整个文件未导入" if reasons else None


def _numbered_csv_rows(reader, columns: list[str]) -> Iterator[tuple[int, dict | str]]:
    while True:
        line = reader.line_num + 1  # a quoted cell may span lines: report where the row starts
        try:
            cells = next(reader)  # import_csv checked the whole file's syntax already
        except StopIteration:
            return
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns):]):
            yield line, f"列数（{len(cells)}）多于表头（{len(columns)}）"
            continue
        yield line, {name: cells[i] if i < len(cells) else "" for i, name in enumerate(columns)
                     if name}


def _code(value) -> str:
    # NFKC folds full-width letters and digits, which MariaDB's collation already treats as equal.
    return unicodedata.normalize("NFKC", _text(value))


def _key(code: str) -> str:
    # Codes are matched case-insensitively, as the unique index does under utf8mb4_unicode_ci.
    return code.casefold()


def _text(value) -> str:
    return "" if value is None else str(value).strip()


AMBIGUOUS = ()  # a community name shared by communities of several stations


def _communities(community_ids: Collection[int] | None = None) -> dict[str, tuple]:
    """Community codes and names (normalised) to (id, police area, station); a name repeated in
    several stations maps to AMBIGUOUS unless the officer's scope leaves only one of them."""
    found: dict[str, tuple] = {}
    rows = db.session.execute(select(Community.code, Community.name, Community.id,
                                     Community.police_area_id, Community.station_id)).all()
    named: dict[str, set] = {}
    for code, name, *ids in rows:
        named.setdefault(unicodedata.normalize("NFKC", name).strip().casefold(),
                         set()).add(tuple(ids))
    for name, matches in named.items():
        if len(matches) > 1 and community_ids is not None:
            matches = {m for m in matches if m[0] in community_ids} or matches
        found[name] = next(iter(matches)) if len(matches) == 1 else AMBIGUOUS
    for code, name, *ids in rows:  # a code always wins over an equal name
        found[unicodedata.normalize("NFKC", code).strip().casefold()] = tuple(ids)
    return found


def _parse_row(line: int, row: dict, communities: dict) -> _Row | str:
    """The row normalised, or every reason it is refused, joined."""
    reasons: list[str] = []
    values: dict = {}

    code = _code(row.get("code"))
    if not code:
        reasons.append("缺少地址编码（code）")
    elif not CODE_PATTERN.fullmatch(code):
        reasons.append(f"地址编码只能由字母、数字和 - _ . 组成：{code}")

    raw_level = _text(row.get("level"))
    level = LEVELS.get(raw_level.lower())
    if not raw_level:
        reasons.append("缺少地址级别（level）")
    elif level is None:
        reasons.append(f"地址级别无效：{raw_level}（应为 building/unit/room 或 楼栋/单元/房间）")
    values["level"] = level

    raw_community = _text(row.get("community"))
    community = communities.get(unicodedata.normalize("NFKC", raw_community).casefold())
    if not raw_community:
        reasons.append("缺少社区（community）")
    elif community is None:
        reasons.append(f"社区不存在：{raw_community}")
    elif community == AMBIGUOUS:
        reasons.append(f"社区名称在多个派出所重复，请填写社区编码：{raw_community}")
    else:
        values["community_id"], values["police_area_id"], values["station_id"] = community

    has_parent_column = "parent_code" in row
    parent_code = _code(row.get("parent_code")) or None
    if parent_code and code and _key(parent_code) == _key(code):
        reasons.append("上级地址编码不能是本地址自身")

    for name in TEXT_FIELDS:
        if name in row:
            values[name] = _text(row[name]) or None
    full_text = _text(row.get("full_text")) or "".join(
        values.get(name) or "" for name in ("road", "number", "building", "unit", "room"))
    if not full_text:
        reasons.append("缺少完整地址（full_text），也无法由道路、门牌号等拼出")
    values["full_text"] = full_text

    for name, value in (("code", code), ("parent_code", parent_code or ""),
                        *((n, values.get(n) or "") for n in (*TEXT_FIELDS, "full_text"))):
        if len(value) > _LENGTHS[name]:
            reasons.append(f"{LABELS[name]}（{name}）超过 {_LENGTHS[name]} 个字符：共 {len(value)} 个")

    if "aliases" in row:
        raw = row["aliases"]
        items = raw if isinstance(raw, (list, tuple)) else _text(raw).split("|")
        aliases = list(dict.fromkeys(a for a in (_text(i) for i in items) if a)) or None
        if aliases and len(json.dumps(aliases, ensure_ascii=False).encode()) > TEXT_MAX_BYTES:
            reasons.append("别名（aliases）过长")
        values["aliases"] = aliases

    if "lat" in row or "lng" in row:
        coords = {}
        for name, limit in (("lat", 90), ("lng", 180)):
            raw = _text(row.get(name))
            if not raw:
                coords[name] = None
                continue
            try:
                number = float(raw)
            except ValueError:
                reasons.append(f"{LABELS[name]}（{name}）不是数字：{raw}")
                continue
            if not math.isfinite(number) or not -limit <= number <= limit:
                reasons.append(f"{LABELS[name]}（{name}）超出范围 -{limit} 到 {limit}：{raw}")
                continue
            coords[name] = number
        if len(coords) == 2 and (coords["lat"] is None) != (coords["lng"] is None):
            reasons.append("纬度（lat）和经度（lng）须同时填写或同时留空")
        values.update(coords)

    if "is_residential" in row:
        raw = row["is_residential"]
        word = _text(raw).lower()
        if isinstance(raw, bool):
            values["is_residential"] = raw
        elif word == "" or word in TRUE_WORDS:
            values["is_residential"] = True
        elif word in FALSE_WORDS:
            values["is_residential"] = False
        else:
            reasons.append(f"是否住宅（is_residential）无效：{_text(raw)}（应为 是/否 或 1/0）")

    if reasons:
        return "；".join(reasons)
    return _Row(line=line, code=code, key=_key(code),
                parent_key=_key(parent_code) if parent_code else None, parent_code=parent_code,
                has_parent_column=has_parent_column, values=values)


def _existing(keys_and_codes: dict[str, str]) -> dict[str, dict]:
    """Existing addresses for these codes, keyed like the file (case-folded code)."""
    columns = [_table.c.id, _table.c.code, _table.c.parent_id, *(
        _table.c[n] for n in (*ALWAYS_WRITTEN, *TEXT_FIELDS, "aliases", "lat", "lng",
                              "is_residential"))]
    found: dict[str, dict] = {}
    codes = list(keys_and_codes.values())
    for i in range(0, len(codes), 1000):
        chunk = codes[i:i + 1000]
        for row in db.session.execute(select(*columns).where(_table.c.code.in_(chunk))).mappings():
            found[_key(row["code"])] = dict(row)
    return found


def _check_parents(rows: dict[str, _Row], rejected: dict[str, int],
                   existing: dict[str, dict]) -> dict[str, str]:
    """Reasons for rows whose parent is unknown, refused or in a cycle (walked, not recursed)."""
    outcome: dict[str, str | None] = {}
    for start in rows:
        chain: list[str] = []
        on_chain: set[str] = set()
        key = start
        top_reason: str | None = None
        while key not in outcome:
            row = rows[key]
            chain.append(key)
            on_chain.add(key)
            parent = row.parent_key
            if parent is None:
                break
            if parent in on_chain:
                cycle = chain[chain.index(parent):]
                names = " → ".join([rows[k].code for k in cycle] + [rows[parent].code])
                for k in cycle:
                    outcome[k] = f"上级地址形成循环：{names}"
                chain = chain[:chain.index(parent)]
                top_reason = "cycle"
                break
            if parent in rows:
                key = parent
                continue
            if parent in existing:
                break
            if parent in rejected:
                top_reason = f"上级地址 {row.parent_code}（第 {rejected[parent]} 行）有错误，未导入"
            else:
                top_reason = f"上级地址编码不存在：{row.parent_code}"
            break
        # Assign from the top down: a row fails when the row above it failed.
        above_failed = top_reason is not None or (key in outcome and outcome[key] is not None)
        for index in range(len(chain) - 1, -1, -1):
            k = chain[index]
            if k in outcome:
                continue
            if index == len(chain) - 1 and top_reason not in (None, "cycle"):
                outcome[k] = top_reason
            elif above_failed:
                parent = rows[k]
                outcome[k] = (f"上级地址 {parent.parent_code}（第 {rows[parent.parent_key].line} 行）"
                              f"有错误，未导入")
            else:
                outcome[k] = None
    return {k: reason for k, reason in outcome.items() if reason is not None}


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
    communities = _communities(community_ids)
    rows: dict[str, _Row] = {}
    rejected: dict[str, int] = {}  # key -> line, so children can name the row that failed
    errors: dict[int, str] = {}

    for line, raw in numbered:
        report.total += 1
        if isinstance(raw, str):
            errors[line] = raw
            continue
        parsed = _parse_row(line, raw, communities)
        if (community_ids is not None and not isinstance(parsed, str)
                and parsed.values["community_id"] not in community_ids):
            parsed = f"社区不在您的管辖范围内：{_text(raw.get('community'))}"
        if isinstance(parsed, str):
            errors[line] = parsed
            code = _code(raw.get("code"))
            if code:
                rejected.setdefault(_key(code), line)
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

    for key, reason in _check_parents(rows, rejected, existing).items():
        errors[rows.pop(key).line] = reason
    report.errors = sorted(errors.items())

    ids = {key: row["id"] for key, row in existing.items()}
    new_rows = [r for r in rows.values() if r.key not in existing]
    for level_rows in _by_depth(new_rows):
        for i in range(0, len(level_rows), batch_size):
            _insert_batch(level_rows[i:i + batch_size], ids)
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
        stmt = (update(_table).where(_table.c.id == bindparam("p_id"))
                .values({**{n: bindparam(f"p_{n}", type_=_table.c[n].type) for n in columns},
                         "updated_at": now}))
        for i in range(0, len(params), batch_size):
            db.session.execute(stmt, [{f"p_{k}": v for k, v in p.items()}
                                      for p in params[i:i + batch_size]])
            if commit:
                db.session.commit()
        report.updated += len(params)
    return report


def _by_depth(new_rows: list[_Row]) -> list[list[_Row]]:
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
    levels: list[list[_Row]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for row in new_rows:
        levels[depth[row.key]].append(row)
    return levels


def _insert_batch(batch: list[_Row], ids: dict[str, int]) -> None:
    now = utcnow()
    params = []
    for row in batch:
        values = {name: None for name in (*TEXT_FIELDS, "aliases", "lat", "lng")}
        values.update(is_residential=True, status="active", plate_issued_at=None)
        values.update(row.values)
        values.update(code=row.code, parent_id=ids[row.parent_key] if row.parent_key else None,
                      qr_token=new_qr_token(), created_at=now, updated_at=now)
        params.append(values)
    db.session.execute(insert(_table), params)
    codes = [row.code for row in batch]
    for code, id_ in db.session.execute(select(_table.c.code, _table.c.id)
                                        .where(_table.c.code.in_(codes))):
        ids[_key(code)] = id_
