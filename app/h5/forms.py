"""Flat HTML form fields ⇄ the nested dicts the API schemas load, and errors back to inputs.

Input names use "-" for nesting: "owner-name", "tenants-1-document_number". Errors use the
schemas' dotted names ("tenants.1.document_number"), so one mapping serves both directions.
"""
from __future__ import annotations

from flask import abort, current_app, request
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from marshmallow import ValidationError

from app import identity
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


def _identity_errors(value, prefix: str = "") -> dict[str, str]:
    """Every document number, mobile and USCC in a nested form checked at once, by dotted name."""
    errors: dict[str, str] = {}
    if isinstance(value, list):
        for i, item in enumerate(value):
            errors.update(_identity_errors(item, f"{prefix}{i}."))
        return errors
    if not isinstance(value, dict):
        return errors
    checks = []
    if value.get("document_number"):
        checks.append(("document_number", lambda: identity.check_document(
            value.get("document_type") or "resident_id", value["document_number"],
            nationality=value.get("nationality") or None)))
    for key in ("phone", "contact_phone"):
        if value.get(key):
            checks.append((key, lambda key=key: identity.check_mobile(value[key], field=key)))
    if value.get("uscc"):
        checks.append(("uscc", lambda: identity.check_uscc(value["uscc"])))
    for key, check in checks:
        try:
            check()
        except identity.IdentityError as exc:
            errors[prefix + (exc.field or key)] = exc.message
    for key, item in value.items():
        if isinstance(item, (dict, list)):
            errors.update(_identity_errors(item, f"{prefix}{key}."))
    return errors


def load_all(schema, form: dict) -> dict:
    """Load a nested form with its schema and check every identity value too, so that one
    refusal names every wrong field at once (services stop at their first RuleError)."""
    errors: dict[str, str] = {}
    data = None
    try:
        data = schema.load(form)
    except ValidationError as exc:
        errors.update(flatten_messages(exc.messages))
    for name, message in _identity_errors(form).items():
        errors.setdefault(name, message)
    if errors:
        raise ValidationError(errors)
    return data


def check_csrf() -> None:
    """Every H5 POST carries the session's CSRF token (Flask-WTF); a missing one is a 400 page."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (CSRFError, ValidationError, Exception):  # noqa: BLE001 - any failure is a refusal
        abort(400, description="页面已过期，请返回刷新后重新提交")


def row_defaults(values: dict, prefix: str, rows: int, today: str) -> dict:
    """Each person row of a multi-person form starts with a 居民身份证 and today's start date."""
    for i in range(rows):
        values.setdefault(f"{prefix}-{i}-document_type", "resident_id")
        values.setdefault(f"{prefix}-{i}-start_date", today)
    return values


__all__ = ["row_defaults", "nest", "errors_of", "load_all", "check_csrf", "generate_csrf", "input_name"]
