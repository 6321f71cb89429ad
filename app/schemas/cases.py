"""Schemas of the officer API's 漏登 trace-back tasks (案前比对 and 抽查)."""
from __future__ import annotations

from marshmallow import Schema, fields

from app.crypto import mask_name
from app.schemas.base import BaseSchema, Timestamp, choice, text
from app.services.police.missed import OUTCOMES, SOURCES


def _masked(name):
    return mask_name(name) if name else None


class MissedCaseOutSchema(Schema):
    id = fields.Integer()
    case_number = fields.String()
    case_date = fields.Date()
    name = fields.Function(lambda c: _masked(c.name), metadata={"description": "姓名（脱敏）"})
    document = fields.String(attribute="document_masked",
                             metadata={"description": "证件号码（脱敏）"})
    registered_before_case = fields.Boolean()


class MissedOutSchema(Schema):
    id = fields.Integer()
    source = fields.String(metadata={"description": ", ".join(
        f"{k}={v}" for k, v in SOURCES.items())})
    status = fields.String(metadata={"description": "open=待追溯, resolved=已办结"})
    station_id = fields.Integer()
    deadline = Timestamp()
    house_id = fields.Integer(allow_none=True)
    address = fields.Function(lambda m: m.house.address.full_text if m.house else None,
                              metadata={"description": "房屋地址"})
    landlord_person_id = fields.Integer(allow_none=True)
    case = fields.Nested(MissedCaseOutSchema, attribute="case_check", allow_none=True)
    spot_check_person_id = fields.Integer(allow_none=True)
    registered_at = Timestamp(allow_none=True, metadata={
        "description": "已补登：该人员之后首次登记的时间（任务仍须民警办结）"})
    registered_receipt = fields.Function(
        lambda m: m.registered_declaration.receipt_code if m.registered_declaration else None,
        metadata={"description": "补登申报的回执号"})
    actual_address_text = fields.String(allow_none=True)
    actual_address_id = fields.Integer(allow_none=True)
    outcome_code = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    resolved_at = Timestamp(allow_none=True)
    resolved_by_officer_id = fields.Integer(allow_none=True)


class MissedCloseInSchema(BaseSchema):
    outcome = choice("追溯结果", list(OUTCOMES), labels=OUTCOMES)
    address_text = text("实际居住地址", required=False, max_len=128, min_len=0)
    note = text("情况说明（结果为其他时必填）", required=False, max_len=2000, min_len=0)
