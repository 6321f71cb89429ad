"""The 五见/四知 checklist template: shipped with an editable default (DESIGN §5)."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import ChecklistTemplate

DEFAULT_NAME = "五见四知（默认）"
DEFAULT_ITEMS = [
    {"key": "see_person", "label": "见人：见到本人", "deadline_days": 7},
    {"key": "see_document", "label": "见证件：核验身份证件", "deadline_days": 7},
    {"key": "see_residence", "label": "见住所：到实际居住地", "deadline_days": 7},
    {"key": "see_contact", "label": "见联系方式：核实联系电话", "deadline_days": 7},
    {"key": "see_cohabitants", "label": "见同住人：了解同住人员", "deadline_days": 7},
    {"key": "know_basics", "label": "知基本情况", "deadline_days": 7},
    {"key": "know_relations", "label": "知社会关系", "deadline_days": 7},
    {"key": "know_conduct", "label": "知现实表现", "deadline_days": 7},
    {"key": "know_routine", "label": "知活动规律", "deadline_days": 7},
]


def active_template() -> ChecklistTemplate:
    """The branch's active checklist template; the shipped default is created on first use."""
    template = db.session.execute(
        select(ChecklistTemplate).where(ChecklistTemplate.is_active.is_(True))
        .order_by(ChecklistTemplate.id.desc()).limit(1)
    ).scalar()
    if template is None:
        template = ChecklistTemplate(name=DEFAULT_NAME, items=DEFAULT_ITEMS,
                                     default_deadline_days=7, is_active=True)
        db.session.add(template)
        db.session.flush()
    return template
