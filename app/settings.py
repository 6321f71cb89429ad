"""The port through which services read the running app's settings (app/config.py) without
importing flask: `settings.get("TRACE_BACK_DAYS", 7)`; outside an app, the default."""
from __future__ import annotations

from flask import current_app, has_app_context


def get(name: str, default=None):
    """The setting `name` of the current app, or `default` when unset or outside an app."""
    if not has_app_context():
        return default
    value = current_app.config.get(name)
    return default if value is None or value == "" else value


def config() -> dict:
    """The current app's config mapping ({} outside an app), for services taking one."""
    return current_app.config if has_app_context() else {}
