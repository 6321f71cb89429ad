"""Schemas for declarations: what landlords, tenants and employers submit, and what they see."""
from __future__ import annotations

from marshmallow import fields, post_load
from sqlalchemy import select

from app.extensions import db
from app.identity import DOCUMENT_TYPE_LABELS, DOCUMENT_TYPES
from app.models import House
from app.models.declaration import KIND_LABELS, STATUS_LABELS
from app.models.house import RENTAL_TYPE_LABELS, RENTAL_TYPES
from app.schemas.base import (
    BaseSchema, Timestamp, choice, day, decimal, id_list, integer, nested_list, text,
)
from app.services.declarations.declare import residence_permit_date
from app.services.declarations.validation import public_reasons


class PersonInSchema(BaseSchema):
    name = text("姓名", max_len=64)
    document_type = choice("证件类型", DOCUMENT_TYPES, labels=DOCUMENT_TYPE_LABELS,
                           required=False, load_default="resident_id")
    document_number = text("证件号码", max_len=32)
    phone = text("手机号码", required=False, max_len=20, min_len=0)
    nationality = text("国籍", required=False, max_len=3, min_len=0)

    @post_load
    def drop_blanks(self, data, **kwargs):
        return {k: v for k, v in data.items() if v not in ("", None)}


class TenantInSchema(PersonInSchema):
    start_date = day("入住日期")
    room = text("房间", required=False, max_len=32, min_len=0)
    relation = text("与房东关系", required=False, max_len=32, min_len=0)


class WorkerInSchema(PersonInSchema):
    start_date = day("入职日期")
    job = text("岗位", required=False, max_len=64, min_len=0)
    dormitory_qr_token = text("宿舍门牌码", required=False, max_len=32, min_len=0)
    # Without a plate to scan: the dormitory's community and its address, typed or picked.
    dormitory_community_id = integer("宿舍所在社区", required=False)
    dormitory_address_text = text("宿舍地址", required=False, max_len=128, min_len=0)
    dormitory_address_id = integer("宿舍地址（候选）", required=False)


class HouseInSchema(BaseSchema):
    qr_token = text("门牌码", max_len=32)
    is_rental = fields.Boolean(load_default=True, metadata={"description": "是否出租"})
    rental_type = choice("出租类型", RENTAL_TYPES, labels=RENTAL_TYPE_LABELS)
    rooms = integer("房间数", low=1, high=200)
    area_m2 = decimal("面积（平方米）", low=1, high=100000)
    monthly_rent = decimal("月租金（元）", low=0, high=10000000)
    owner = fields.Nested(PersonInSchema, required=True,
                          error_messages={"required": "请填写房主信息", "null": "请填写房主信息",
                                          "type": "房主信息格式不正确"})
    agent = fields.Nested(PersonInSchema, required=False, allow_none=True)


class PledgeInSchema(BaseSchema):
    signer_name = text("签名（您的姓名）", max_len=64)
    agree = fields.Boolean(required=True, error_messages={
        "required": "请阅读并同意保证书", "invalid": "请阅读并同意保证书"})


class MoveInSchema(BaseSchema):
    tenants = nested_list(TenantInSchema, "租客")


class VacancySchema(BaseSchema):
    is_vacant = fields.Boolean(required=True, metadata={"description": "是否空置"},
                               error_messages={"required": "请说明房屋是否空置",
                                               "invalid": "是否空置应为 true 或 false"})


class MoveOutSchema(BaseSchema):
    residence_ids = id_list("退租租客")
    end_date = day("退租日期")


class CorrectionSchema(BaseSchema):
    """The corrected facts of a declaration; only those given change (which apply depends on
    the kind: a tenant's, the house's, the employer's, a worker's, or the end date)."""

    residence_id = integer("更正的租客", required=False)
    employment_id = integer("更正的员工", required=False)
    start_date = day("入住（入职）日期", required=False)
    end_date = day("退租（离职）日期", required=False)
    room = text("房间", required=False, max_len=32, min_len=0)
    relation = text("与房东关系", required=False, max_len=32, min_len=0)
    name = text("姓名（单位名称）", required=False, max_len=128)
    phone = text("手机号码", required=False, max_len=20)
    rental_type = choice("出租类型", RENTAL_TYPES, labels=RENTAL_TYPE_LABELS, required=False)
    rooms = integer("房间数", required=False, low=1, high=200)
    area_m2 = decimal("面积（平方米）", low=1, high=100000)
    monthly_rent = decimal("月租金（元）", low=0, high=10000000)
    contact_name = text("联系人", required=False, max_len=64)
    contact_phone = text("联系电话", required=False, max_len=20)
    job = text("岗位", required=False, max_len=64)
    dormitory_qr_token = text("宿舍门牌码", required=False, max_len=32)


class SelfDeclarationSchema(BaseSchema):
    """By a scanned door plate (qr_token), or by community and typed or picked address."""

    qr_token = text("门牌码", required=False, max_len=32)
    community_id = integer("所在社区", required=False)
    address_text = text("详细地址", required=False, max_len=128)
    address_id = integer("地址（候选）", required=False)
    me = fields.Nested(TenantInSchema, required=True,
                       error_messages={"required": "请填写本人信息", "null": "请填写本人信息",
                                       "type": "本人信息格式不正确"})


class EmployerInSchema(BaseSchema):
    name = text("单位名称", max_len=128)
    uscc = text("统一社会信用代码", max_len=18)
    qr_token = text("单位地址门牌码", max_len=32)
    contact_name = text("联系人", max_len=64)
    contact_phone = text("联系电话", max_len=20)


class HireSchema(BaseSchema):
    workers = nested_list(WorkerInSchema, "员工")


class LeaveSchema(BaseSchema):
    employment_ids = id_list("离职员工")
    end_date = day("离职日期")


# -- what people see ----------------------------------------------------------------------------

class ReasonOutSchema(BaseSchema):
    field = fields.String()
    message = fields.String()


class DeclarationOutSchema(BaseSchema):
    id = fields.Integer()
    kind = fields.String()
    kind_label = fields.Function(lambda d: KIND_LABELS.get(d.kind, d.kind), metadata={"type": "string"})
    status = fields.String()
    status_label = fields.Function(lambda d: STATUS_LABELS.get(d.status, d.status),
                                   metadata={"type": "string"})
    receipt_code = fields.String()
    receipt_url = fields.Function(lambda d: f"/r/{d.receipt_code}", metadata={"type": "string"})
    created_at = Timestamp()
    is_late = fields.Boolean()
    late_hours = fields.Integer(allow_none=True)
    house_id = fields.Integer(allow_none=True)
    employer_id = fields.Integer(allow_none=True)
    reasons = fields.Method("_public_reasons", metadata={
        "description": "退回或待审核原因", "type": "array",
        "items": {"$ref": "#/components/schemas/ReasonOut"}})
    decision_reason = fields.String(allow_none=True)

    def _public_reasons(self, declaration):
        return public_reasons(declaration)


class ResidenceOutSchema(BaseSchema):
    id = fields.Integer()
    house_id = fields.Integer()
    name = fields.Function(lambda r: r.shown_name, metadata={"type": "string"})
    document_masked = fields.Function(lambda r: r.person.document_masked, metadata={"type": "string"})
    phone_masked = fields.Function(lambda r: r.person.phone_masked,
                                   metadata={"type": "string", "nullable": True})
    room = fields.String(allow_none=True)
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True)
    status = fields.String()
    relation = fields.String(attribute="relation_to_landlord", allow_none=True)
    permit_from = fields.Method("_permit_from", metadata={"description": "可申领居住证日期",
                                                          "type": "string", "format": "date"})

    def _permit_from(self, residence):
        return residence_permit_date(residence.start_date).isoformat()


class HouseOutSchema(BaseSchema):
    id = fields.Integer()
    address = fields.Function(lambda h: h.address.full_text, metadata={"type": "string"})
    qr_token = fields.Function(lambda h: h.address.qr_token, metadata={"type": "string"})
    is_rental = fields.Boolean()
    rental_type = fields.String(allow_none=True)
    rental_type_label = fields.Function(
        lambda h: RENTAL_TYPE_LABELS.get(h.rental_type or "", ""), metadata={"type": "string"})
    rooms = fields.Integer(allow_none=True)
    # Sent as strings ("68.50") so no float rounding creeps in; documented as such.
    area_m2 = fields.Decimal(as_string=True, allow_none=True,
                             metadata={"type": "string", "format": "decimal"})
    monthly_rent = fields.Decimal(as_string=True, allow_none=True,
                                  metadata={"type": "string", "format": "decimal"})
    pledge_signed_at = Timestamp(allow_none=True)
    last_confirmed_at = Timestamp(allow_none=True)
    is_vacant = fields.Boolean()
    agent = fields.Method("_agent", metadata={"description": "托管人（未登记为 null）"})

    def _agent(self, house):
        if house.agent is None:
            return None
        return {"name": house.agent.name, "document_masked": house.agent.document_masked,
                "phone_masked": house.agent.phone_masked}


class HouseDetailOutSchema(HouseOutSchema):
    """What GET /houses/{id} sends: the house and its current tenants (documents the view)."""

    tenants = fields.List(fields.Nested(ResidenceOutSchema), dump_only=True)


class AddressOutSchema(BaseSchema):
    qr_token = fields.String()
    code = fields.String()
    full_text = fields.String()
    level = fields.String()
    community = fields.Function(lambda a: a.community.name, metadata={"type": "string"})
    house_id = fields.Method("_house_id", metadata={"type": "integer", "nullable": True})

    def _house_id(self, address):
        return db.session.execute(
            select(House.id).where(House.address_id == address.id)).scalar()


class AddressCandidateSchema(BaseSchema):
    address_id = fields.Integer()
    full_text = fields.String()
    score = fields.Float(metadata={"description": "匹配分数（0–100）"})


class AddressMatchOutSchema(BaseSchema):
    candidates = fields.List(fields.Nested(AddressCandidateSchema))


class CommunityOutSchema(BaseSchema):
    id = fields.Integer()
    name = fields.String()
    station = fields.String(metadata={"description": "所属派出所"})


class ErrorSchema(BaseSchema):
    code = fields.Integer()
    message = fields.String()
    fields = fields.Dict(keys=fields.String(), values=fields.String())


HOUSE_FIELDS = ("owner", "agent", "rental_type", "rooms", "area_m2", "monthly_rent", "is_rental")
EMPLOYER_FIELDS = ("name", "uscc", "contact_name", "contact_phone")


def house_fields(data: dict) -> dict:
    """A loaded HouseInSchema as register_house's keywords (H5 and API call it alike)."""
    return {key: data.get(key) for key in HOUSE_FIELDS}


def employer_fields(data: dict) -> dict:
    """A loaded EmployerInSchema as register_employer's keywords (H5 and API alike)."""
    return {key: data[key] for key in EMPLOYER_FIELDS}


def typed_address_fields(data: dict) -> dict:
    """A loaded SelfDeclarationSchema's typed or picked address as declare_self_typed's
    keywords (H5 and API alike)."""
    return {key: data.get(key) for key in ("community_id", "address_text", "address_id")}
