"""Configuration read from the environment, once, with small typed helpers."""
from __future__ import annotations

import os
from pathlib import Path


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value is None or value == "" else int(value)


def load_config(instance_path: str) -> dict:
    """Build the config dict from the environment; see .env.example for every key."""
    app_env = env_str("APP_ENV", "development")
    production = app_env == "production"
    instance = Path(instance_path)
    default_db = f"sqlite:///{instance / 'anju.sqlite3'}"
    return {
        "APP_ENV": app_env,
        "SECRET_KEY": env_str("SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": env_str("DATABASE_URL", default_db),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_recycle": 3600},
        "REDIS_URL": env_str("REDIS_URL"),
        # Field encryption: "kid:base64key[,kid:base64key...]"; the active id encrypts new writes.
        "FIELD_ENCRYPTION_KEYS": env_str("FIELD_ENCRYPTION_KEYS"),
        "FIELD_ENCRYPTION_ACTIVE_KEY_ID": env_str("FIELD_ENCRYPTION_ACTIVE_KEY_ID"),
        "BLIND_INDEX_KEY": env_str("BLIND_INDEX_KEY"),
        "PUBLIC_BASE_URL": env_str("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        "WECHAT_SANDBOX": env_bool("WECHAT_SANDBOX", not production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env_bool("SESSION_COOKIE_SECURE", production),
        "MAX_CONTENT_LENGTH": env_int("MAX_CONTENT_LENGTH", 16 * 1024 * 1024),
        "DEMO_SEED": env_int("DEMO_SEED", 20261127),
    }
