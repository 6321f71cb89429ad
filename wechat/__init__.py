"""Everything that speaks WeChat's protocols (built on wechatpy), and the sandbox.

Nothing outside this package imports wechatpy.
"""
from __future__ import annotations

from flask import Flask

MESSAGE_MODES = ("plain", "compatible", "safe")


def init_app(app: Flask) -> None:
    """Register the callback, H5 OAuth, mini-program login and `flask wechat`; the sandbox when on."""
    from app.config import WECHAT_SANDBOX_DEFAULTS

    if app.config.get("WECHAT_SANDBOX"):
        # The sandbox may be switched on by a config override after the environment was read.
        for key, value in WECHAT_SANDBOX_DEFAULTS.items():
            if not app.config.get(key):
                app.config[key] = value
    _check_config(app)

    from wechat.callback import bp as callback_bp
    from wechat.callback import install_fast_path
    from wechat.cli import wechat_cli
    from wechat.miniapp import bp as miniapp_bp
    from wechat.oauth import bp as oauth_bp

    from app.extensions import limiter

    # The callback is called by WeChat's servers from a few addresses: per-address limits would
    # throttle WeChat itself. Forged requests are refused by signature before any work is done.
    limiter.exempt(callback_bp)
    app.register_blueprint(callback_bp)
    install_fast_path(app)  # the callback's POSTs skip the pages' per-request work
    app.register_blueprint(oauth_bp)
    app.register_blueprint(miniapp_bp, url_prefix="/api/v1/auth")
    app.cli.add_command(wechat_cli)

    if app.config.get("WECHAT_SANDBOX"):
        from wechat.sandbox import init_app as init_sandbox

        init_sandbox(app)


def _check_config(app: Flask) -> None:
    mode = app.config.get("WECHAT_MESSAGE_MODE") or "safe"
    if mode not in MESSAGE_MODES:
        raise RuntimeError(f"WECHAT_MESSAGE_MODE must be one of {', '.join(MESSAGE_MODES)}")
    app.config["WECHAT_MESSAGE_MODE"] = mode
    key = app.config.get("WECHAT_ENCODING_AES_KEY")
    if key and len(key) != 43:
        raise RuntimeError("WECHAT_ENCODING_AES_KEY must be 43 characters")
