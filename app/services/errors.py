"""Domain errors: what services raise instead of HTTP errors; each blueprint family answers them
(a page, the API's JSON error body, a WeChat reply: app/errors.py)."""
from __future__ import annotations

from app.field_errors import FieldError


class RuleError(FieldError):
    """A domain rule refused the input; `field` is the input's name (dotted for nested items)."""


class StateConflict(RuleError):
    """The object is no longer in a state that allows this action (closed task, closed alert);
    the API answers 409, the console shows the message."""

    def __init__(self, message: str):
        super().__init__("status", message)


class NotFound(LookupError):
    """No such object, or none the caller may see (answered 404: a stranger learns nothing)."""

    def __init__(self, message: str | None = None):
        super().__init__(message or "")
        self.message = message  # Chinese, safe to show; None: the family's usual 404 words


class Forbidden(PermissionError):
    """The caller may not do this (answered 403)."""

    def __init__(self, message: str | None = None):
        super().__init__(message or "")
        self.message = message
