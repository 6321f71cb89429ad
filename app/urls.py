"""Redirect targets taken from a request: only paths on this site."""
from __future__ import annotations

from urllib.parse import urlsplit

MAX_PATH = 2048


def same_site_path(target: object) -> str | None:
    """The target when it is a path on this site (`/…`), else None.

    Refused: another host (`//evil`, `/\\evil`, which browsers read as `//evil`), any scheme
    (`http://evil`, `javascript:`), and whitespace or control characters anywhere — browsers drop
    tabs and newlines from URLs, so `/<TAB>/evil` would become `//evil`.
    """
    if not isinstance(target, str) or not target or len(target) > MAX_PATH:
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if not target.isprintable() or any(ch.isspace() for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
