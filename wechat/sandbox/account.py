"""The sandbox's view of the WeChat account settings (the same config keys the real code reads)."""
from __future__ import annotations

from flask import current_app

from app.config import WECHAT_SANDBOX_DEFAULTS

# Used only when a key is unset: the sandbox account of app/config.py (applied there when
# WECHAT_SANDBOX is on), plus the message mode and quota the fake assumes.
SANDBOX_DEFAULTS = {**WECHAT_SANDBOX_DEFAULTS, "WECHAT_MESSAGE_MODE": "safe",
                    "WECHAT_TEMPLATE_DAILY_QUOTA": 100000}
# The official account's original id (gh_…): WeChat puts it in ToUserName of every inbound message.
ORIGINAL_ID = "gh_5a4d6b0c1e2f"


def setting(name: str):
    """A WeChat config value, falling back to the sandbox default when unset."""
    value = current_app.config.get(name)
    return SANDBOX_DEFAULTS.get(name) if value in (None, "") else value


def app_credentials() -> dict[str, str]:
    """appid → secret for the official account and the mini-program the sandbox stands in for."""
    return {
        setting("WECHAT_APP_ID"): setting("WECHAT_APP_SECRET"),
        setting("WECHAT_MINIAPP_ID"): setting("WECHAT_MINIAPP_SECRET"),
    }
