"""Schemas of penalty decisions (处罚决定): the console form and the officer API load the same
input; the amount is a string of yuan checked against the article's range by the service."""
from __future__ import annotations

from marshmallow import fields

from app.crypto import mask_name
from app.models.penalty import PENALTY_KIND_LABELS
from app.schemas.base import BaseSchema, Timestamp, choice, day, integer, text


class PenaltyInSchema(BaseSchema):
    """A decision; the house comes from the path (console: ?house= or ?missed=) or the body."""

    landlord_person_id = integer("被处罚人（房主或托管人）")
    offence_date = day("违法行为发生日期")
    kind = choice("处罚种类", tuple(PENALTY_KIND_LABELS), labels=PENALTY_KIND_LABELS,
                  required=False, load_default="fine")
    amount_yuan = text("罚款金额（元；处警告时不填）", required=False, max_len=16, min_len=0)
    minor = fields.Boolean(load_default=False, metadata={"description": "情节较轻"},
                           error_messages={"invalid": "情节较轻应为是或否"})
    note = text("违法事实", required=False, max_len=1000, min_len=0)


class OfficerPenaltyInSchema(PenaltyInSchema):
    """The officer API names the house or the 漏登 in the body (one of the two)."""

    house_id = integer("房屋", required=False)
    missed_registration_id = integer("漏登核查任务", required=False)


class PenaltyOutSchema(BaseSchema):
    id = fields.Integer()
    house_id = fields.Integer()
    address = fields.Function(lambda p: p.house.address.full_text)
    landlord_person_id = fields.Integer()
    landlord_name = fields.Function(lambda p: mask_name(p.landlord.name),
                                    metadata={"description": "被处罚人（姓名已遮蔽）"})
    missed_registration_id = fields.Integer(allow_none=True)
    offence_date = fields.Date()
    legal_basis = fields.String(metadata={"description": "处罚依据（简称）"})
    legal_basis_key = fields.String(metadata={"description": "法条表中的条目"})
    legal_citation = fields.String(metadata={"description": "处罚依据（全称）"})
    legal_text = fields.String(metadata={"description": "所引条文（决定时的文本）"})
    kind = fields.String(metadata={"description": "fine=罚款, warning=警告"})
    amount_yuan = fields.Decimal(as_string=True, allow_none=True, places=2)
    minor = fields.Boolean(metadata={"description": "情节较轻"})
    note = fields.String(allow_none=True, metadata={"description": "违法事实"})
    decided_by_officer_id = fields.Integer()
    decided_by = fields.Function(lambda p: p.decided_by.name)
    decided_at = Timestamp()
