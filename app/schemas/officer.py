"""Schemas of the officer API (警务通)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate


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
