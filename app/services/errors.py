"""Rule violations that name the field and say why in Chinese."""
from __future__ import annotations


class RuleError(ValueError):
    """A domain rule refused the input; `field` is the input's name (dotted for nested items)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return self.message

    def prefixed(self, prefix: str) -> "RuleError":
        """The same error under a nested field name, e.g. tenants.1.document_number."""
        return RuleError(f"{prefix}.{self.field}" if prefix else self.field, self.message)
