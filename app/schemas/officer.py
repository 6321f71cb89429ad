"""Schemas of the officer API (警务通)."""
from __future__ import annotations

from datetime import datetime, timezone

from marshmallow import Schema, fields, validate

from app.crypto import mask_name
from app.extensions import db
from app.models import Employer, House
from app.schemas.base import BEIJING, BaseSchema, Timestamp
from app.services.police.alerts import KIND_LABELS
from app.services.police.tasks import is_on_time


class SignInSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64),
                             error_messages={"required": "请输入用户名"})
    password = fields.String(required=True, validate=validate.Length(min=1, max=256),
                             load_only=True, error_messages={"required": "请输入密码"})


class SignInOutSchema(Schema):
    token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    officer = fields.Nested("OfficerOutSchema")


class OfficerOutSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    badge_number = fields.String()
    role = fields.String()
    station_id = fields.Integer(allow_none=True)
    police_area_id = fields.Integer(allow_none=True)


class SignOutSchema(Schema):
    signed_out = fields.Boolean()


def _beijing(value: str | None) -> str | None:
    """A stored naive-UTC ISO time as RFC 3339 in Beijing time."""
    if not value:
        return None

    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc).astimezone(
        BEIJING).isoformat()


class ChecklistItemOutSchema(Schema):
    key = fields.String()
    label = fields.String()
    deadline_days = fields.Integer()
    deadline = fields.Function(lambda i: _beijing(i.get("deadline")),
                               metadata={"format": "date-time"})
    done_at = fields.Function(lambda i: _beijing(i.get("done_at")), allow_none=True,
                              metadata={"format": "date-time"})
    officer_name = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    lng = fields.Float(allow_none=True)
    no_gps_reason = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    has_photo = fields.Function(lambda i: bool(i.get("photo")))
    on_time = fields.Boolean(allow_none=True)


class TaskOutSchema(Schema):
    id = fields.Integer()
    template = fields.Function(lambda t: t.template.name if t.template else None)
    template_version = fields.Function(lambda t: t.template.version if t.template else None)
    status = fields.String(metadata={"description": "open=进行中, done=已完成, moved_away=已迁出, "
                                                    "cancelled=已撤销"})
    person_name = fields.Function(lambda t: _mask_name(t.person.name))
    category = fields.Function(lambda t: t.watch.category)
    address = fields.Function(lambda t: _address_of(t))
    deadline = Timestamp()
    on_time = fields.Function(lambda t: _on_time(t), allow_none=True)
    closed_reason = fields.String(allow_none=True)
    checklist = fields.List(fields.Nested(ChecklistItemOutSchema))


class TaskItemInSchema(BaseSchema):
    lat = fields.Float(allow_none=True, load_default=None,
                       error_messages={"invalid": "纬度格式不正确"})
    lng = fields.Float(allow_none=True, load_default=None,
                       error_messages={"invalid": "经度格式不正确"})
    no_gps_reason = fields.String(allow_none=True, load_default=None,
                                  metadata={"description": "未提供定位时必填：原因"})
    note = fields.String(allow_none=True, load_default=None)
    photo_base64 = fields.String(allow_none=True, load_default=None,
                                 metadata={"description": "可选：JPEG/PNG 照片（≤ 5 MB）的 base64"})


class AlertOutSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    kind_label = fields.Function(lambda a: _kind_label(a.kind))
    summary = fields.String()
    status = fields.String()
    raised_at = Timestamp()
    due_at = Timestamp(allow_none=True)
    owner_officer_id = fields.Integer(allow_none=True)
    object_type = fields.String()
    object_id = fields.Integer()
    outcome = fields.String(allow_none=True)
    close_note = fields.String(allow_none=True)
    closed_at = Timestamp(allow_none=True)


class AlertCloseInSchema(BaseSchema):
    outcome = fields.String(required=True, error_messages={"required": "请选择处置结果"},
                            metadata={"description": "handled=已处置, verified_on_site=已上门核实, "
                                                     "false_alarm=核实无异常, transferred=已移交"})
    note = fields.String(required=True, error_messages={"required": "请填写处置情况"})



class KpiFigureSchema(Schema):
    numerator = fields.Integer()
    denominator = fields.Integer()
    rate = fields.String(allow_none=True, metadata={
        "description": "分子÷分母的小数（截断到4位，如 \"0.875\"）；分母为0时为 null（无数据）"})
    colour = fields.String(metadata={"description": "green / yellow / red；none 为无数据"})


class KpiSetSchema(Schema):
    address_labelling = fields.Nested(KpiFigureSchema, metadata={"description": "地址标注率"})
    house_collection = fields.Nested(KpiFigureSchema, metadata={"description": "房屋采集率"})
    spot_check_registration = fields.Nested(KpiFigureSchema,
                                            metadata={"description": "抽查登记率"})
    pre_case_registration = fields.Nested(KpiFigureSchema,
                                          metadata={"description": "案前管控登记率"})
    control_timeliness = fields.Nested(KpiFigureSchema, metadata={"description": "五见四知按期率"})
    alert_handling = fields.Nested(KpiFigureSchema, metadata={"description": "预警处置率"})


class KpiAreaSchema(Schema):
    area_id = fields.Integer()
    area_code = fields.String(allow_none=True)
    name = fields.String()
    kpis = fields.Nested(KpiSetSchema)


class KpiTableOutSchema(Schema):
    """The KPI table (docs/KPIS.md): the same figures as the console dashboard and reports."""

    period = fields.String(metadata={"description": "2026-11、2026-11-H1 或 2026-11-H2"})
    level = fields.String(metadata={"description": "community / police_area / station / branch"})
    areas = fields.List(fields.Nested(KpiAreaSchema))
    call_in = fields.List(fields.Dict(), metadata={"description": "约谈名单及其依据的数字"})

def _mask_name(name: str | None) -> str | None:
    return mask_name(name) if name else name


def _address_of(task) -> str | None:
    if task.house_id:
        house = db.session.get(House, task.house_id)
        return house.address.full_text if house else None
    if task.employer_id:
        employer = db.session.get(Employer, task.employer_id)
        return employer.name if employer else None
    return None


def _on_time(task) -> bool | None:
    return is_on_time(task) if task.status == "done" else None


def _kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)
