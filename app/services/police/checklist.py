"""The 五见 and 四知 checklist templates: shipped with editable defaults (DESIGN §5); editing
one adds a new version, and each control task keeps the version it was made with."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from app.extensions import db
from app.models import ChecklistTemplate
from app.services.accounts import audit
from app.services.errors import RuleError

DEFAULT_DEADLINE_DAYS = 7
DEFAULT_TEMPLATES = {
    "五见": [
        {"key": "see_person", "label": "见人：见到本人", "deadline_days": 7},
        {"key": "see_document", "label": "见证件：核验身份证件", "deadline_days": 7},
        {"key": "see_residence", "label": "见住所：到实际居住地", "deadline_days": 7},
        {"key": "see_contact", "label": "见联系方式：核实联系电话", "deadline_days": 7},
        {"key": "see_cohabitants", "label": "见同住人：了解同住人员", "deadline_days": 7},
    ],
    "四知": [
        {"key": "know_basics", "label": "知基本情况", "deadline_days": 7},
        {"key": "know_relations", "label": "知社会关系", "deadline_days": 7},
        {"key": "know_conduct", "label": "知现实表现", "deadline_days": 7},
        {"key": "know_routine", "label": "知活动规律", "deadline_days": 7},
    ],
}
MAX_DEADLINE_DAYS = 365
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def active_templates() -> list[ChecklistTemplate]:
    """The active version of every template (五见, 四知 …); the defaults are created on first use."""
    templates = db.session.execute(
        select(ChecklistTemplate).where(ChecklistTemplate.is_active.is_(True))
        .order_by(ChecklistTemplate.name, ChecklistTemplate.version.desc())).scalars().all()
    if not templates:
        for name, items in DEFAULT_TEMPLATES.items():
            db.session.add(ChecklistTemplate(name=name, version=1, items=items,
                                             default_deadline_days=DEFAULT_DEADLINE_DAYS,
                                             is_active=True))
        db.session.flush()
        return active_templates()
    newest: dict[str, ChecklistTemplate] = {}
    for template in templates:
        newest.setdefault(template.name, template)
    return sorted(newest.values(), key=lambda t: list(DEFAULT_TEMPLATES).index(t.name)
                  if t.name in DEFAULT_TEMPLATES else 99)


def active_template() -> ChecklistTemplate:
    """The first active template (五见)."""
    return active_templates()[0]


def clean_items(rows: list[dict]) -> list[dict]:
    """Validate edited items: each a label and a deadline of 1–365 days; keys are kept or made."""
    items, keys = [], set()
    for i, row in enumerate(rows):
        label = (row.get("label") or "").strip()
        if not label:
            continue
        if len(label) > 64:
            raise RuleError(f"items.{i}.label", "事项名称不超过 64 字")
        try:
            days = int(str(row.get("deadline_days") or "").strip())
        except ValueError:
            raise RuleError(f"items.{i}.deadline_days", "时限应为天数（整数）") from None
        if not 1 <= days <= MAX_DEADLINE_DAYS:
            raise RuleError(f"items.{i}.deadline_days", f"时限应为 1 到 {MAX_DEADLINE_DAYS} 天")
        key = (row.get("key") or "").strip()
        if not _KEY.match(key) or key in keys:
            key = f"item_{i + 1}"
            while key in keys:
                key += "_"
        keys.add(key)
        items.append({"key": key, "label": label, "deadline_days": days})
    if not items:
        raise RuleError("items", "至少保留一个事项")
    return items


def save_version(template: ChecklistTemplate, rows: list[dict]) -> ChecklistTemplate:
    """Save edited items as the next version of the template; the old version stays with the
    tasks made from it."""
    items = clean_items(rows)
    if items == template.items:
        return template
    version = db.session.execute(select(func.max(ChecklistTemplate.version)).where(
        ChecklistTemplate.name == template.name)).scalar() or 0
    template.is_active = False
    new = ChecklistTemplate(name=template.name, version=version + 1, items=items,
                            default_deadline_days=template.default_deadline_days, is_active=True)
    db.session.add(new)
    db.session.flush()
    return new


def save_version_audited(officer, template_id: str | None, rows: list[dict], *,
                         ip: str | None) -> ChecklistTemplate | None:
    """Save the next version of an active template, with its audit row; None when no active
    template has this id."""
    template = next((t for t in active_templates() if str(t.id) == template_id), None)
    if template is None:
        return None
    new = save_version(template, rows)
    audit.record(officer, "checklist.edit", "checklist_template", new.id, ip=ip,
                 detail={"name": new.name, "version": new.version})
    return new


def template_history() -> list[ChecklistTemplate]:
    """Every version of every template, newest version first within a name."""
    return list(db.session.execute(select(ChecklistTemplate).order_by(
        ChecklistTemplate.name, ChecklistTemplate.version.desc())).scalars())
