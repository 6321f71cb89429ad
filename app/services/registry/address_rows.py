"""Reading an address registry file: columns, the row checks with their Chinese reasons, and
the parent checks (unknown, refused or cyclic parents), before anything is written.

The writing side is app.services.registry.address_import; columns are described in
docs/ADDRESS_IMPORT.md.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Collection, Iterator

from sqlalchemy import select

from app.extensions import db
from app.models import Address, Community

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

table = Address.__table__
_LENGTHS = {name: table.c[name].type.length
            for name in ("code", "level", "road", "number", "building", "unit", "floor", "room",
                         "full_text")}
_LENGTHS["parent_code"] = _LENGTHS["code"]


@dataclass
class Row:
    line: int
    code: str
    key: str
    parent_key: str | None
    parent_code: str | None
    has_parent_column: bool
    values: dict


def csv_reader(text: str):
    # strict: an unbalanced quote is an error, not a field that silently swallows later rows.
    return csv.reader(io.StringIO(text, newline=""), strict=True)


def syntax_problem(text: str) -> tuple[int, str] | None:
    """(line, reason) of the first row the CSV parser refuses, so that a file it cannot read
    (an unbalanced quote, a field over the parser's size limit) is refused before any write."""
    reader = csv_reader(text)
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


def column_name(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


def header_problem(columns: list[str]) -> str | None:
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


def numbered_csv_rows(reader, columns: list[str]) -> Iterator[tuple[int, dict | str]]:
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


def clean_code(value) -> str:
    # NFKC folds full-width letters and digits, which MariaDB's collation already treats as equal.
    return unicodedata.normalize("NFKC", clean_text(value))


def code_key(code: str) -> str:
    # Codes are matched case-insensitively, as the unique index does under utf8mb4_unicode_ci.
    return code.casefold()


def clean_text(value) -> str:
    return "" if value is None else str(value).strip()


AMBIGUOUS = ()  # a community name shared by communities of several stations


def communities_by_name(community_ids: Collection[int] | None = None) -> dict[str, tuple]:
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


def parse_row(line: int, row: dict, communities: dict) -> Row | str:
    """The row normalised, or every reason it is refused, joined."""
    reasons: list[str] = []
    values: dict = {}

    code = clean_code(row.get("code"))
    if not code:
        reasons.append("缺少地址编码（code）")
    elif not CODE_PATTERN.fullmatch(code):
        reasons.append(f"地址编码只能由字母、数字和 - _ . 组成：{code}")

    raw_level = clean_text(row.get("level"))
    level = LEVELS.get(raw_level.lower())
    if not raw_level:
        reasons.append("缺少地址级别（level）")
    elif level is None:
        reasons.append(f"地址级别无效：{raw_level}（应为 building/unit/room 或 楼栋/单元/房间）")
    values["level"] = level

    raw_community = clean_text(row.get("community"))
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
    parent_code = clean_code(row.get("parent_code")) or None
    if parent_code and code and code_key(parent_code) == code_key(code):
        reasons.append("上级地址编码不能是本地址自身")

    for name in TEXT_FIELDS:
        if name in row:
            values[name] = clean_text(row[name]) or None
    full_text = clean_text(row.get("full_text")) or "".join(
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
        items = raw if isinstance(raw, (list, tuple)) else clean_text(raw).split("|")
        aliases = list(dict.fromkeys(a for a in (clean_text(i) for i in items) if a)) or None
        if aliases and len(json.dumps(aliases, ensure_ascii=False).encode()) > TEXT_MAX_BYTES:
            reasons.append("别名（aliases）过长")
        values["aliases"] = aliases

    if "lat" in row or "lng" in row:
        coords = {}
        for name, limit in (("lat", 90), ("lng", 180)):
            raw = clean_text(row.get(name))
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
        word = clean_text(raw).lower()
        if isinstance(raw, bool):
            values["is_residential"] = raw
        elif word == "" or word in TRUE_WORDS:
            values["is_residential"] = True
        elif word in FALSE_WORDS:
            values["is_residential"] = False
        else:
            reasons.append(f"是否住宅（is_residential）无效：{clean_text(raw)}（应为 是/否 或 1/0）")

    if reasons:
        return "；".join(reasons)
    return Row(line=line, code=code, key=code_key(code),
                parent_key=code_key(parent_code) if parent_code else None, parent_code=parent_code,
                has_parent_column=has_parent_column, values=values)


def check_parents(rows: dict[str, Row], rejected: dict[str, int],
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
