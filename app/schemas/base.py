"""Field helpers whose every error message is Chinese and names the field."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from marshmallow import EXCLUDE, Schema, fields, validate

# China keeps one offset all year (no DST since 1991): a fixed zone needs no tz database.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


class BaseSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # extra keys from older clients are ignored, never an English error


def _messages(label: str, invalid: str | None = None) -> dict:
    return {
        "required": f"请填写{label}",
        "null": f"请填写{label}",
        "invalid": invalid or f"{label}格式不正确",
        "validator_failed": f"{label}不符合要求",
        "type": f"{label}格式不正确",
        "special": f"{label}格式不正确",
        "too_large": f"{label}数值过大",
        "format": f"{label}格式不正确",
    }


def text(label: str, *, required: bool = True, max_len: int = 64, min_len: int = 1,
         **kwargs) -> fields.String:
    """A trimmed text field with a length limit."""
    return fields.String(
        required=required, allow_none=not required, metadata={"description": label},
        validate=validate.Length(min=min_len, max=max_len,
                                 error=f"{label}长度应在{min_len}到{max_len}个字之间"),
        error_messages=_messages(label), **kwargs)


def choice(label: str, choices, *, required: bool = True, labels: dict | None = None,
           **kwargs) -> fields.String:
    """One of a fixed set of values (the Chinese labels are documented in the OpenAPI)."""
    names = "、".join(labels[c] for c in choices) if labels else "、".join(choices)
    return fields.String(
        required=required, allow_none=not required,
        metadata={"description": f"{label}: " + ", ".join(
            f"{c}={labels[c]}" if labels else c for c in choices)},
        validate=validate.OneOf(list(choices), error=f"{label}应为：{names}"),
        error_messages=_messages(label), **kwargs)


def integer(label: str, *, required: bool = True, low: int | None = None,
            high: int | None = None, **kwargs) -> fields.Integer:
    rng = []
    if low is not None or high is not None:
        rng = [validate.Range(min=low, max=high, error=f"{label}应在{low}到{high}之间")]
    return fields.Integer(required=required, allow_none=not required, strict=False,
                          validate=rng, metadata={"description": label},
                          error_messages=_messages(label, f"{label}应为整数"), **kwargs)


def decimal(label: str, *, required: bool = False, low=0, high=None, places: int = 2,
            **kwargs) -> fields.Decimal:
    return fields.Decimal(
        required=required, allow_none=not required, places=places, as_string=True,
        validate=[validate.Range(min=low, max=high,
                                 error=f"{label}应在{low}到{high}之间")],
        metadata={"description": label}, error_messages=_messages(label, f"{label}应为数字"),
        **kwargs)


def day(label: str, *, required: bool = True, **kwargs) -> fields.Date:
    return fields.Date(required=required, allow_none=not required,
                       metadata={"description": f"{label} (YYYY-MM-DD)"},
                       error_messages=_messages(label, f"{label}应为日期，如2026-01-31"), **kwargs)


def id_list(label: str, *, max_items: int = 50) -> fields.List:
    return fields.List(
        fields.Integer(strict=False, error_messages=_messages(label, f"{label}应为编号")),
        required=True, validate=validate.Length(min=1, max=max_items,
                                                error=f"请选择1到{max_items}项{label}"),
        error_messages=_messages(label), metadata={"description": label})


def nested_list(schema, label: str, *, max_items: int = 20) -> fields.List:
    return fields.List(
        fields.Nested(schema, error_messages=_messages(label)), required=True,
        validate=validate.Length(min=1, max=max_items,
                                 error=f"{label}应为1到{max_items}人"),
        error_messages=_messages(label), metadata={"description": label})


class Timestamp(fields.DateTime):
    """A stored (naive UTC) time sent as RFC 3339 in Beijing time: 2026-12-01T16:00:00+08:00."""

    def _serialize(self, value: datetime | None, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(BEIJING).isoformat(timespec="seconds")
