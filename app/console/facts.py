"""A declaration's payload as the facts an officer reads: labelled sections in Chinese, values in
words (居民身份证, 中国, 2026年11月1日, 是), internal ids left out or turned into what they name."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from app.formatting import local_date
from app.models.house import RENTAL_TYPE_LABELS
from app.identity import DOCUMENT_TYPE_LABELS
from app.wording import (
    FIELD_NAMES, LIST_ITEMS, OBJECT_NAMES, ROLE_LABELS, nationality_label, yes_no,
)

# Ids that only join rows: never shown (the page shows what they name instead).
HIDDEN_KEYS = {"house_id", "person_id", "residence_id", "employment_id", "employer_id",
               "address_id", "dormitory_house_id", "qr_token", "dormitory_qr_token", "lat", "lng",
               "silent"}
DATE_KEYS = {"start_date", "end_date", "birth_date"}
LABELS = {**FIELD_NAMES, "address": "地址", "employer": "用工单位", "name": "姓名",
          "document_masked": "证件号码", "phone_masked": "手机号码",
          "contact_phone_masked": "联系电话", "corrects": "更正的申报（回执码）",
          "confirmed_by": "已确认方", "area_m2": "面积（平方米）", "monthly_rent": "月租金（元）",
          "end_date": "离开日期"}
KIND_END_DATE = {"move_out": "退租日期", "leave": "离职日期"}
KIND_START_DATE = {"hire": "入职日期"}


@dataclass
class Fact:
    label: str
    value: str
    path: str = ""
    key: str = ""
    revealable: bool = False
    person_id: int | None = None


@dataclass
class Section:
    title: str
    facts: list[Fact] = field(default_factory=list)


def _value(key: str, raw, kind: str) -> str:
    if key == "document_type":
        return DOCUMENT_TYPE_LABELS.get(raw, "其他证件")
    if key == "nationality":
        return nationality_label(raw)
    if key == "rental_type":
        return RENTAL_TYPE_LABELS.get(raw, "其他")
    if key in DATE_KEYS:
        return local_date(raw)
    if key == "confirmed_by" and isinstance(raw, list):
        return "、".join(ROLE_LABELS.get(r, "其他") for r in raw)
    if isinstance(raw, bool):
        return yes_no(raw)
    if raw is None:
        return ""
    return str(raw)


def _label(key: str, kind: str) -> str:
    if key == "end_date" and kind in KIND_END_DATE:
        return KIND_END_DATE[kind]
    if key == "start_date" and kind in KIND_START_DATE:
        return KIND_START_DATE[kind]
    return LABELS.get(key, "其他信息")


def build_facts(declaration, *, masked: Callable[[str, object], str], sensitive: set[str],
                revealed: dict | None = None, dormitories: dict | None = None,
                workplace: str | None = None) -> list[Section]:
    """The payload as sections of facts; sensitive values masked unless revealed by path."""
    payload = declaration.payload or {}
    kind = declaration.kind
    revealed = revealed or {}
    dormitories = dormitories or {}

    def facts_of(obj: dict, prefix: str) -> list[Fact]:
        out: list[Fact] = []
        for key, raw in obj.items():
            path = f"{prefix}{key}"
            if key == "person_id" and isinstance(raw, int):
                out.insert(0, Fact("人员", "", path, key, person_id=raw))
                continue
            if key == "dormitory_house_id" and raw:
                out.append(Fact("宿舍地址", dormitories.get(raw, "（不在本辖区）"), path, key))
                continue
            if key in HIDDEN_KEYS or isinstance(raw, (dict, list)) and key != "confirmed_by":
                continue
            if raw in (None, "") or key == "name" and any(f.person_id for f in out):
                continue
            if key in sensitive:
                shown = revealed.get(path) or masked(key, raw)
                out.append(Fact(_label(key, kind), shown, path, key,
                                revealable=path not in revealed))
            elif key in ("name", "document_masked"):  # snapshots are masked again for display
                out.append(Fact(_label(key, kind), masked(key, raw), path, key))
            else:
                out.append(Fact(_label(key, kind), _value(key, raw, kind), path, key))
        return out

    sections = [Section("申报内容", facts_of(payload, ""))]
    if kind == "hire":
        sections[0].facts.append(Fact("工作地址", workplace or "（未登记）", "", "workplace"))
    for key, raw in payload.items():
        if key in LIST_ITEMS and isinstance(raw, list):
            for i, item in enumerate(raw):
                if isinstance(item, dict):
                    sections.append(Section(f"第{i + 1}位{LIST_ITEMS[key]}",
                                            facts_of(item, f"{key}.{i}.")))
        elif key in OBJECT_NAMES and isinstance(raw, dict):
            sections.append(Section(OBJECT_NAMES[key], facts_of(raw, f"{key}.")))
    return [s for s in sections if s.facts]
