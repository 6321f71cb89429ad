"""Everything that speaks WeChat's protocols (built on wechatpy), and the sandbox.

Nothing outside this package imports wechatpy.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the WeChat blueprints; the sandbox only when WECHAT_SANDBOX is on."""
    if app.config.get("WECHAT_SANDBOX"):
        from wechat.sandbox import init_app as init_sandbox

        init_sandbox(app)
