"""Rule violations that name the field and say why in Chinese."""
from __future__ import annotations

from app.field_errors import FieldError


class RuleError(FieldError):
    """A domain rule refused the input; `field` is the input's name (dotted for nested items)."""


class StateConflict(RuleError):
    """The object is no longer in a state that allows this action (closed task, closed alert);
    the API answers 409, the console shows the message."""

    def __init__(self, message: str):
        super().__init__("status", message)
