"""Anju application factory."""
from __future__ import annotations

import os

from flask import Flask, current_app, has_app_context, request
from werkzeug.middleware.proxy_fix import ProxyFix

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
    from app.services.people.retention import retention_problems

    if retention_problems(app.config):
        raise RuntimeError("refusing to start:\n" + "\n".join(retention_problems(app.config)))
    if app.config["APP_ENV"] == "production":
        from app.config import production_problems

        if app.config.get("WECHAT_SANDBOX"):
            raise RuntimeError("WECHAT_SANDBOX must be off in production")
        problems = production_problems(app.config)
        if problems:
            raise RuntimeError("refusing to start half-configured:\n" + "\n".join(problems))

    from app.logs import configure_logging, init_request_logging
    from app.metrics import observe_request

    configure_logging(app.config)
    trust_proxies(app)
    init_request_logging(app, observe=observe_request)
    register_extensions(app)
    register_ports(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_cli(app)
    from app.services.police import legal_basis

    legal_basis.table()  # the table of laws is data: a broken file stops start-up, not a decision
    from app.formatting import register as register_formatting

    register_formatting(app)
    from workers.embedded import init_app as init_embedded_scheduler

    init_embedded_scheduler(app)  # development demo only (make run / flask run)
    return app


def trust_proxies(app: Flask) -> None:
    """Believe X-Forwarded-For/-Proto from exactly TRUSTED_PROXIES hops (none by default), so
    audit rows, sign-in back-off and rate limits see the real client behind a load balancer."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops < 0:
        raise RuntimeError("TRUSTED_PROXIES must be 0 or a positive number of proxies")
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


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
    app.config.setdefault("RATELIMIT_STORAGE_URI", limiter_storage_uri(app.config))
    if app.config.get("REDIS_SENTINELS"):  # the Sentinels' master, its db and password
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {
            "db": int(app.config.get("REDIS_DB") or 0),
            **({"password": app.config["REDIS_PASSWORD"]} if app.config.get("REDIS_PASSWORD") else {}),
            "sentinel_kwargs": {"socket_connect_timeout": 2, "socket_timeout": 2,
                                **({"password": app.config["REDIS_SENTINEL_PASSWORD"]}
                                   if app.config.get("REDIS_SENTINEL_PASSWORD") else {})}})
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)  # Redis down must not lock officers out
    bootstrap.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "console.login"
    login_manager.login_message = "请先登录"
    login_manager.session_protection = "basic"
    app.after_request(add_security_headers)
    import app.models  # noqa: F401  (register every table on the metadata)
    from workers.outbox import attach_session_listeners

    attach_session_listeners()  # relay each commit's promised jobs


# Endpoints whose answers hold no personal data and may be cached: static files only.
CACHEABLE_ENDPOINTS = {"static", "console.static", "bootstrap.static"}


def register_ports(app: Flask) -> None:
    """Wire the ports services ask for (app/services/ports.py): configuration, WeChat pushes and
    the real-name check (实名核验) for linking persons."""
    from app.services import ports
    from wechat.push import WeChatPushes

    ports.wire_settings(lambda: current_app.config if has_app_context() else None)
    if not ports.pushes.wired:  # a test (or embedding app) may have wired its own
        ports.pushes.wire(WeChatPushes())
    if "anju_real_name_check" in app.extensions:
        return  # a test (or embedding app) supplied its own
    if app.config.get("WECHAT_SANDBOX"):
        from wechat.sandbox.realname import SandboxRealNameCheck

        app.extensions["anju_real_name_check"] = SandboxRealNameCheck()
    else:
        from wechat.realname import WeChatRealNameNotOpened

        app.extensions["anju_real_name_check"] = WeChatRealNameNotOpened()


def limiter_storage_uri(config) -> str:
    """Where rate limits are counted: the same Redis (or Sentinels) as everything else."""
    if config.get("REDIS_SENTINELS"):
        master = config.get("REDIS_SENTINEL_MASTER") or "anju"
        return f"redis+sentinel://{config['REDIS_SENTINELS']}/{master}"
    return config.get("REDIS_URL") or "memory://"


def add_security_headers(response):
    """Security headers on every answer; a view that needs another value sets its own first.

    Everything but static files is `Cache-Control: no-store`: console, H5, API, receipt and
    sandbox pages show personal data, and neither the browser nor a proxy may keep a copy.
    """
    if request.endpoint not in CACHEABLE_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault(
        "Content-Security-Policy", "default-src 'self'; img-src 'self' data:"
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("APP_ENV") == "production":  # production is https only
        response.headers.setdefault("Strict-Transport-Security",
                                    "max-age=31536000; includeSubDomains")
    return response


def register_blueprints(app: Flask) -> None:
    from app.api import bp as api_bp
    from app.console import bp as console_bp
    from app.h5 import bp as h5_bp
    from app.health import bp as health_bp
    from app.metrics import bp as metrics_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(metrics_bp)
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
