"""Flat HTML form fields ⇄ the nested dicts the API schemas load, and errors back to inputs.

Input names use "-" for nesting: "owner-name", "tenants-1-document_number". Errors use the
schemas' dotted names ("tenants.1.document_number"), so one mapping serves both directions.
"""
from __future__ import annotations

from flask import abort, request
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from marshmallow import ValidationError

from app.errors import flatten_messages
from app.field_errors import FieldError


def nest(form) -> dict:
    """{"tenants-0-name": "x"} → {"tenants": [{"name": "x"}]}; blanks are dropped."""
    data: dict = {}
    for key, value in form.items(multi=False):
        if key == "csrf_token":
            continue
        value = value.strip() if isinstance(value, str) else value
        parts = key.split("-")
        target = data
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt_is_index = not last and parts[i + 1].isdigit()
            if part.isdigit():
                index = int(part)
                while len(target) <= index:
                    target.append({} if not last else None)
                if last:
                    target[index] = value
                else:
                    if target[index] is None:
                        target[index] = [] if nxt_is_index else {}
                    target = target[index]
            else:
                if last:
                    if value != "":
                        target[part] = value
                else:
                    target = target.setdefault(part, [] if nxt_is_index else {})
    return _compact(data)


def _compact(value):
    if isinstance(value, list):
        return [_compact(v) for v in value if v not in (None, {}, "")]
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items()}
    return value


def input_name(field: str) -> str:
    return field.replace(".", "-")


def errors_of(exc: Exception) -> dict[str, str]:
    """Per-input Chinese messages for a refused submission."""
    if isinstance(exc, ValidationError):
        flat = flatten_messages(exc.messages)
    elif isinstance(exc, FieldError):
        flat = {exc.field: exc.message}
    else:
        raise exc
    return {input_name(k): v for k, v in flat.items()}


def check_csrf() -> None:
    """Every H5 POST carries the session's CSRF token (Flask-WTF); a missing one is a 400 page."""
    from flask import current_app

    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (CSRFError, ValidationError, Exception):  # noqa: BLE001 - any failure is a refusal
        abort(400, description="页面已过期，请返回刷新后重新提交")


__all__ = ["nest", "errors_of", "check_csrf", "generate_csrf", "input_name"]
