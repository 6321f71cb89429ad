"""Rule violations that name the field and say why in Chinese."""
from __future__ import annotations

from app.field_errors import FieldError


class RuleError(FieldError):
    """A domain rule refused the input; `field` is the input's name (dotted for nested items)."""

    def prefixed(self, prefix: str) -> "RuleError":
        """The same error under a nested field name, e.g. tenants.1.document_number."""
        return RuleError(f"{prefix}.{self.field}" if prefix else self.field, self.message)
