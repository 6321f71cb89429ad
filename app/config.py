"""Configuration read from the environment, once, with small typed helpers."""
from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import quote, urlsplit


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
    sandbox = env_bool("WECHAT_SANDBOX", not production)
    return {
        "APP_ENV": app_env,
        "SECRET_KEY": env_str("SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": env_str("DATABASE_URL", default_db),
        # Heavy reads (search, review queue, exports, dashboards) go here when set (app/db_read.py).
        "DATABASE_REPLICA_URL": env_str("DATABASE_REPLICA_URL"),
        "REDIS_URL": env_str("REDIS_URL") or sentinel_url(),
        # Redis through Sentinel (app/redis_conn.py): "host:port,host:port", the master's name.
        "REDIS_SENTINELS": env_str("REDIS_SENTINELS"),
        "REDIS_SENTINEL_MASTER": env_str("REDIS_SENTINEL_MASTER", "anju"),
        "REDIS_PASSWORD": env_str("REDIS_PASSWORD"),
        "REDIS_SENTINEL_PASSWORD": env_str("REDIS_SENTINEL_PASSWORD"),
        "REDIS_DB": env_int("REDIS_DB", 0),
        # Field encryption: "kid:base64key[,kid:base64key...]"; the active id encrypts new writes.
        "FIELD_ENCRYPTION_KEYS": env_str("FIELD_ENCRYPTION_KEYS"),
        "FIELD_ENCRYPTION_ACTIVE_KEY_ID": env_str("FIELD_ENCRYPTION_ACTIVE_KEY_ID"),
        "BLIND_INDEX_KEY": env_str("BLIND_INDEX_KEY"),
        "PUBLIC_BASE_URL": env_str("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        # Reverse proxies in front of the app (nginx, a load balancer) whose X-Forwarded-For and
        # X-Forwarded-Proto are believed; 0 = none, the peer address is the client.
        "TRUSTED_PROXIES": env_int("TRUSTED_PROXIES", 0),
        "WECHAT_SANDBOX": sandbox,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env_bool("SESSION_COOKIE_SECURE", production),
        "MAX_CONTENT_LENGTH": env_int("MAX_CONTENT_LENGTH", 16 * 1024 * 1024),
        "DEMO_SEED": env_int("DEMO_SEED", 20261127),
        "CONSOLE_IDLE_MINUTES": env_int("CONSOLE_IDLE_MINUTES", 480),
        # What door-plate QRs encode: "wechat" (a parametric QR: scanning follows the account)
        # or "h5" (the H5 link itself).
        "PLATE_QR_MODE": env_str("PLATE_QR_MODE", "wechat" if production else "h5"),
        # Reminders (app/services/reminders/): quiet hours in local time, the template-message
        # daily quota, and per-rule overrides as JSON, e.g. {"house_undeclared": {"after_days": 7}}.
        "REMINDER_TIMEZONE": env_str("REMINDER_TIMEZONE", "Asia/Shanghai"),
        "REMINDER_QUIET_START": env_str("REMINDER_QUIET_START", "22:00"),
        "REMINDER_QUIET_END": env_str("REMINDER_QUIET_END", "08:00"),
        "REMINDER_RULES": env_str("REMINDER_RULES"),
        "WECHAT_TEMPLATE_DAILY_QUOTA": env_int("WECHAT_TEMPLATE_DAILY_QUOTA", 100000),
        # Days a landlord has to confirm a tenant's self-declaration before it goes to the area
        # officer's review queue (DESIGN §5: the 3-day declaration deadline).
        "SELF_DECLARATION_CONFIRM_DAYS": env_int("SELF_DECLARATION_CONFIRM_DAYS", 3),
        # Declaration deadlines (DESIGN §5), counted from local (Asia/Shanghai) midnight of the
        # move-in / move-out date: late declarations are accepted and marked late.
        "DECLARE_MOVE_IN_DAYS": env_int("DECLARE_MOVE_IN_DAYS", 3),
        "DECLARE_FOREIGN_HOURS": env_int("DECLARE_FOREIGN_HOURS", 24),
        "DECLARE_MOVE_OUT_DAYS": env_int("DECLARE_MOVE_OUT_DAYS", 3),
        # Retention (app/services/people/retention.py): audit rows are purged after AUDIT_RETENTION_DAYS
        # (at least 183: 网络安全法 第二十一条); people whose stays all ended more than
        # ENDED_RESIDENCE_RETENTION_DAYS ago are anonymised.
        "AUDIT_RETENTION_DAYS": env_int("AUDIT_RETENTION_DAYS", 400),
        "ENDED_RESIDENCE_RETENTION_DAYS": env_int("ENDED_RESIDENCE_RETENTION_DAYS", 730),
        # Logs: json | text (default json in production, text elsewhere); level name.
        "LOG_FORMAT": env_str("LOG_FORMAT"),
        "LOG_LEVEL": env_str("LOG_LEVEL", "INFO"),
        # /metrics: client networks allowed to scrape (comma-separated CIDRs, default loopback)
        # and, when set, the bearer token a scrape must carry as well.
        "METRICS_ALLOW": env_str("METRICS_ALLOW", "127.0.0.1/32,::1/128"),
        "METRICS_TOKEN": env_str("METRICS_TOKEN"),
        # Address levels that carry a door plate, for 地址标注率 (docs/KPIS.md).
        "KPI_PLATE_LEVELS": env_str("KPI_PLATE_LEVELS", "building,room"),
        **wechat_config(sandbox),
    }


def sentinel_url() -> str | None:
    """REDIS_SENTINELS as a redis+sentinel:// URL (Flask-Limiter reads it; "jobs on" everywhere)."""
    sentinels = env_str("REDIS_SENTINELS")
    if not sentinels:
        return None
    master = env_str("REDIS_SENTINEL_MASTER", "anju")
    password = env_str("REDIS_PASSWORD")
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis+sentinel://{auth}{sentinels}/{master}"


# What production needs beyond the secrets (app/keys.py): each missing one is named on its own line.
PRODUCTION_REQUIRED = {
    "REDIS_URL": "REDIS_URL is required in production (jobs, WeChat token cache, rate limits)",
    "WECHAT_APP_ID": "WECHAT_APP_ID is required in production (the official account's app id)",
    "WECHAT_APP_SECRET": "WECHAT_APP_SECRET is required in production",
    "WECHAT_TOKEN": "WECHAT_TOKEN is required in production (the callback's server token)",
    "WECHAT_ENCODING_AES_KEY": "WECHAT_ENCODING_AES_KEY is required in production",
}


def production_problems(config: dict) -> list[str]:
    """One line per setting a production start would be unsafe or broken without."""
    problems = [message for key, message in PRODUCTION_REQUIRED.items() if not config.get(key)]
    url = config.get("PUBLIC_BASE_URL") or ""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        parts, host = None, ""
    if parts is None or parts.scheme != "https" or not host or _is_local(host):
        problems.append(f"PUBLIC_BASE_URL must be the public https address in production, "
                        f"not {url or 'empty'}")
    return problems


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def engine_options(database_url: str) -> dict:
    """Pool options for a server database: check each pooled connection before use (a restarted
    MariaDB leaves only dead ones) and replace it before the server's idle timeout does; SQLite
    keeps SQLAlchemy's defaults."""
    if database_url.startswith("sqlite"):
        return {}
    return {"pool_pre_ping": True, "pool_recycle": env_int("DATABASE_POOL_RECYCLE", 1800)}


# Development values for the sandbox account (the same as wechat/sandbox/account.py), used only
# when WECHAT_SANDBOX is on and the key is unset. They are public: never use them for real WeChat.
WECHAT_SANDBOX_DEFAULTS = {
    "WECHAT_APP_ID": "wxsandbox00000001",
    "WECHAT_APP_SECRET": "sandbox-app-secret-0000000000000",
    "WECHAT_TOKEN": "sandboxtoken",
    "WECHAT_ENCODING_AES_KEY": "c2FuZGJveC1hZXMta2V5LTAwMDAwMDAwMDAwMDAwMDA",
    "WECHAT_MINIAPP_ID": "wxsandboxmini0001",
    "WECHAT_MINIAPP_SECRET": "sandbox-miniapp-secret-00000000",
    "WECHAT_API_BASE_URL": "http://wechat-sandbox.invalid/wechat-sandbox/api/",
    "WECHAT_OAUTH_AUTHORIZE_URL": "/wechat-sandbox/open/connect/oauth2/authorize",
    "WECHAT_NOTICE_TEMPLATE_ID": "sandbox-notice-template",
    "WECHAT_MINIAPP_NOTICE_TEMPLATE_ID": "sandbox-miniapp-notice-template",
}


def wechat_config(sandbox: bool) -> dict:
    """The WeChat keys (official account, mini-program, HTTP client, callback window)."""
    defaults = WECHAT_SANDBOX_DEFAULTS if sandbox else {}

    def key(name: str, production_default: str | None = None) -> str | None:
        return env_str(name, defaults.get(name, production_default))

    return {
        "WECHAT_APP_ID": key("WECHAT_APP_ID"),
        "WECHAT_APP_SECRET": key("WECHAT_APP_SECRET"),
        "WECHAT_TOKEN": key("WECHAT_TOKEN"),
        "WECHAT_ENCODING_AES_KEY": key("WECHAT_ENCODING_AES_KEY"),
        "WECHAT_MESSAGE_MODE": env_str("WECHAT_MESSAGE_MODE", "safe"),
        "WECHAT_API_BASE_URL": key("WECHAT_API_BASE_URL", "https://api.weixin.qq.com/"),
        "WECHAT_OAUTH_AUTHORIZE_URL": key("WECHAT_OAUTH_AUTHORIZE_URL",
                                          "https://open.weixin.qq.com/connect/oauth2/authorize"),
        "WECHAT_MINIAPP_ID": key("WECHAT_MINIAPP_ID"),
        "WECHAT_MINIAPP_SECRET": key("WECHAT_MINIAPP_SECRET"),
        "WECHAT_NOTICE_TEMPLATE_ID": key("WECHAT_NOTICE_TEMPLATE_ID"),
        "WECHAT_MINIAPP_NOTICE_TEMPLATE_ID": key("WECHAT_MINIAPP_NOTICE_TEMPLATE_ID"),
        "WECHAT_HTTP_CONNECT_TIMEOUT": float(env_str("WECHAT_HTTP_CONNECT_TIMEOUT", "3")),
        "WECHAT_HTTP_READ_TIMEOUT": float(env_str("WECHAT_HTTP_READ_TIMEOUT", "10")),
        "WECHAT_REPLAY_WINDOW_SECONDS": env_int("WECHAT_REPLAY_WINDOW_SECONDS", 300),
        "WECHAT_FOLLOW_URL": env_str("WECHAT_FOLLOW_URL"),
        "WECHAT_ACCOUNT_NAME": env_str("WECHAT_ACCOUNT_NAME", "安居"),
    }
