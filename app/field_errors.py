"""The one shape of a refusal that names its input: every layer raises a FieldError subclass."""
from __future__ import annotations


class FieldError(ValueError):
    """Input refused; `field` is the input's (dotted) name and `message` is Chinese, safe to show."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return self.message
