"""Schemas for ownership claims (what the claimant sees) and the owner's agent (托管人)."""
from __future__ import annotations

from marshmallow import fields

from app.schemas.base import BaseSchema
from app.schemas.declarations import PersonInSchema
from app.services.declarations.claims import receipt_message


class AgentInSchema(BaseSchema):
    agent = fields.Nested(PersonInSchema, required=True,
                          error_messages={"required": "请填写托管人信息", "null": "请填写托管人信息",
                                          "type": "托管人信息格式不正确"})


class ClaimOutSchema(BaseSchema):
    """An ownership claim as its claimant sees it: never anything of the house or employer."""

    id = fields.Integer()
    kind = fields.String(attribute="subject_type",
                         metadata={"description": "house=申请变更房主, employer=申请认领单位"})
    kind_label = fields.String(attribute="subject_label")
    status = fields.String(metadata={"description": "pending / approved / refused / withdrawn"})
    status_label = fields.String()
    message = fields.Method("_message", metadata={"description": "给申请人的说明"})
    decision_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    house_id = fields.Method("_house_id", metadata={"description": "通过后才给出"})
    employer_id = fields.Method("_employer_id", metadata={"description": "通过后才给出"})

    def _message(self, claim):
        return receipt_message(claim)

    def _house_id(self, claim):
        approved = claim.status == "approved" and claim.subject_type == "house"
        return claim.subject_id if approved else None

    def _employer_id(self, claim):
        approved = claim.status == "approved" and claim.subject_type == "employer"
        return claim.subject_id if approved else None
