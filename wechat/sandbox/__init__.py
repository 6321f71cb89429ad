"""The WeChat sandbox: a fake WeChat HTTP API and a simulator (DESIGN §2). Never in production."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the sandbox blueprints."""
