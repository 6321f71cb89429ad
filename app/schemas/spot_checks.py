"""Schemas of the officer API's spot checks (抽查) and plans."""
from __future__ import annotations

from marshmallow import fields, validate

from app.crypto import mask_name
from app.extensions import db
from app.models import House
from app.models.house import RENTAL_TYPE_LABELS, RENTAL_TYPES
from app.schemas.base import BaseSchema, Timestamp, choice, integer, text
from app.schemas.declarations import PersonInSchema, TenantInSchema


class FoundPersonInSchema(PersonInSchema):
    room = text("房间", required=False, max_len=32, min_len=0)


class SpotCheckInSchema(BaseSchema):
    house_id = integer("房屋", required=False)
    qr_token = text("门牌码（扫码或输入；与 house_id 二选一）", required=False, max_len=64,
                    min_len=0)
    plan_item_id = integer("抽查任务", required=False)
    lat = fields.Float(allow_none=True, load_default=None,
                       error_messages={"invalid": "纬度格式不正确"})
    lng = fields.Float(allow_none=True, load_default=None,
                       error_messages={"invalid": "经度格式不正确"})
    note = text("备注", required=False, max_len=500, min_len=0)
    persons = fields.List(fields.Nested(FoundPersonInSchema), required=True,
                          validate=validate.Length(min=1, max=30,
                                                   error="现场人员应为1到30人"),
                          error_messages={"required": "请至少填写一位现场人员",
                                          "type": "现场人员格式不正确"})


def _masked(name):
    return mask_name(name) if name else name


class FoundPersonOutSchema(BaseSchema):
    id = fields.Integer()
    name = fields.Function(lambda r: _masked(r.person.name))
    document_masked = fields.Function(lambda r: r.person.document_masked)
    room = fields.String(allow_none=True)
    was_registered = fields.Boolean(metadata={"description": "抽查前是否已在该房屋登记"})
    result = fields.Function(lambda r: "已登记" if r.was_registered else "未登记：已现场采集并记漏登")
    declaration_id = fields.Integer(allow_none=True,
                                    metadata={"description": "未登记时现场采集的入住申报"})


class SpotCheckOutSchema(BaseSchema):
    id = fields.Integer()
    house_id = fields.Integer()
    address = fields.Function(lambda c: _address(c.house_id))
    checked_at = Timestamp()
    lat = fields.Float(allow_none=True)
    lng = fields.Float(allow_none=True)
    persons = fields.List(fields.Nested(FoundPersonOutSchema))
    missed = fields.Function(lambda c: sum(1 for p in c.persons if not p.was_registered))


class SpotHouseOutSchema(BaseSchema):
    id = fields.Integer()
    address = fields.Function(lambda h: h.address.full_text)
    is_rental = fields.Boolean()


class PlanItemOutSchema(BaseSchema):
    id = fields.Integer()
    plan_id = fields.Integer()
    house_id = fields.Integer()
    address = fields.Function(lambda i: i.house.address.full_text)
    officer_id = fields.Integer(allow_none=True)
    spot_check_id = fields.Integer(allow_none=True)
    done = fields.Function(lambda i: i.spot_check_id is not None)


class PlanInSchema(BaseSchema):
    size = integer("抽查户数", low=1, high=200)
    seed = integer("随机种子", required=False, low=0, high=2**62 - 1)
    police_area_id = integer("警务区", required=False)
    officer_ids = fields.List(fields.Integer(), required=True,
                              validate=validate.Length(min=1, max=50,
                                                       error="请指派1到50位民警"),
                              error_messages={"required": "请至少指派一位民警"})
    note = text("备注", required=False, max_len=255, min_len=0)


class PlanOutSchema(BaseSchema):
    id = fields.Integer()
    seed = fields.Integer(metadata={"description": "随机种子：同一种子、同一房屋范围抽出同样的样本"})
    sample_size = fields.Integer()
    police_area_id = fields.Integer(allow_none=True)
    created_at = Timestamp()
    items = fields.List(fields.Nested(PlanItemOutSchema))


def _address(house_id):
    house = db.session.get(House, house_id)
    return house.address.full_text if house else None


# -- field collection (警务通采集) ------------------------------------------------------------------

class FieldCollectionInSchema(BaseSchema):
    qr_token = text("门牌码", max_len=64)
    owner = fields.Nested(PersonInSchema, required=False, allow_none=True, load_default=None,
                          metadata={"description": "房屋尚未登记时：房东信息（现场代为登记房屋）"})
    rental_type = choice("出租类型", RENTAL_TYPES, labels=RENTAL_TYPE_LABELS, required=False)
    rooms = integer("房间数", required=False, low=1, high=200)
    tenants = fields.List(fields.Nested(TenantInSchema), load_default=list,
                          validate=validate.Length(max=30, error="一次最多采集30位租客"))
    signer_name = text("签名人姓名", max_len=64)
    signature_png_base64 = fields.String(
        required=True, error_messages={"required": "请让房东在屏幕上签名"},
        metadata={"description": "房东在屏幕上手写的签名：PNG（≤ 1 MB）的 base64"})
    lat = fields.Float(allow_none=True, load_default=None,
                       error_messages={"invalid": "纬度格式不正确"})
    lng = fields.Float(allow_none=True, load_default=None,
                       error_messages={"invalid": "经度格式不正确"})


class CollectedDeclarationOutSchema(BaseSchema):
    id = fields.Integer()
    kind = fields.String()
    status = fields.String()
    receipt_code = fields.String()
    channel = fields.String()


class FieldCollectionOutSchema(BaseSchema):
    house_id = fields.Function(lambda r: r.house.id)
    address = fields.Function(lambda r: r.house.address.full_text)
    pledge_signed = fields.Function(lambda r: r.house.pledge_signed_at is not None)
    declarations = fields.List(fields.Nested(CollectedDeclarationOutSchema))
