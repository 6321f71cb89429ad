"""Rule violations that name the field and say why in Chinese."""
from __future__ import annotations

from app.field_errors import FieldError


class RuleError(FieldError):
    """A domain rule refused the input; `field` is the input's name (dotted for nested items)."""
