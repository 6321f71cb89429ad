"""Anju application factory."""
from __future__ import annotations

import os

from flask import Flask

from app.config import load_config


def create_app(config: dict | None = None) -> Flask:
    """Build the app: config from the environment (overridable), extensions, blueprints, CLI."""
    app = Flask(__name__, instance_path=os.environ.get("ANJU_INSTANCE_PATH") or None,
                instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(load_config(app.instance_path))
    if config:
        app.config.update(config)

    from app.keys import ensure_secrets

    ensure_secrets(app.config, app.instance_path)
    if app.config["APP_ENV"] == "production" and app.config.get("WECHAT_SANDBOX"):
        raise RuntimeError("WECHAT_SANDBOX must be off in production")

    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    from app.config import engine_options
    from app.extensions import bootstrap, db, limiter, login_manager, migrate

    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS",
                          engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"),
                     render_as_batch=True, compare_type=True)
    # Console: Bootstrap from the package (police networks have no CDN), login, rate limits.
    app.config.setdefault("BOOTSTRAP_SERVE_LOCAL", True)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)  # Redis down must not lock officers out
    bootstrap.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "console.login"
    login_manager.login_message = "请先登录"
    login_manager.session_protection = "basic"
    app.after_request(add_security_headers)
    import app.models  # noqa: F401  (register every table on the metadata)
    import workers.queues  # noqa: F401  (after-commit enqueue hooks)


def add_security_headers(response):
    """Security headers on every answer; a view that needs another value sets its own first."""
    response.headers.setdefault(
        "Content-Security-Policy", "default-src 'self'; img-src 'self' data:"
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def register_blueprints(app: Flask) -> None:
    from app.api import bp as api_bp
    from app.console import bp as console_bp
    from app.h5 import bp as h5_bp
    from app.health import bp as health_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(h5_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(console_bp, url_prefix="/console")

    from wechat import init_app as init_wechat

    init_wechat(app)


def register_error_handlers(app: Flask) -> None:
    from app.errors import register

    register(app)


def register_cli(app: Flask) -> None:
    from app.cli import register

    register(app)
