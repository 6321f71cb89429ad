"""The WeChat sandbox: a fake WeChat HTTP API and a simulator (DESIGN §2). Never in production."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Flask
from flask_wtf.csrf import generate_csrf

from app.formatting import local_datetime


def init_app(app: Flask) -> None:
    """Register the fake API, the fake authorize page and the simulator pages."""
    if app.config.get("APP_ENV") == "production":
        raise RuntimeError("the WeChat sandbox must never run in production")
    from wechat.sandbox.api import bp as api_bp
    from wechat.sandbox.oauth import bp as open_bp
    from wechat.sandbox.simulator import bp as simulator_bp

    # WeChat's servers and wechatpy send no CSRF token; forms on the simulator pages do.
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(api_bp)
    app.add_template_global(_csrf_token, "sandbox_csrf_token")
    app.add_template_filter(_local_time, "sandbox_time")
    app.add_template_filter(_web_url, "sandbox_web_url")
    app.register_blueprint(api_bp)
    app.register_blueprint(open_bp)
    app.register_blueprint(simulator_bp)


def _csrf_token() -> str:
    return generate_csrf()


def _local_time(timestamp: float) -> str:
    # The simulator shows Beijing time like every other page, whatever the host's zone.

    return local_datetime(datetime.fromtimestamp(timestamp, timezone.utc))


def _web_url(url: str | None) -> str | None:
    # Links in replies and pushes come from the app; still, only web links become clickable.
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None
