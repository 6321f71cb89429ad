"""`python tests/backends.py prepare DB_URL REDIS_URL`: check both servers and make a fresh test DB.

Exit 0 when both are reachable and the database was recreated empty; exit 1 (with the reason)
otherwise, so the runner can skip or fail the MariaDB pass.
"""
from __future__ import annotations

import sys

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def prepare(db_url: str, redis_url: str) -> int:
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        print(f"Redis not reachable at {make_url_safe(redis_url)}: {exc}")
        return 1
    url = make_url(db_url)
    name = url.database
    try:
        engine = create_engine(url.set(database=""), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            conn.execute(text(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        print(f"MariaDB not reachable or not usable at {url.host}:{url.port}: {exc}")
        return 1
    print(f"fresh database {name} on {url.host}:{url.port or 3306}; Redis ok")
    return 0


def make_url_safe(url: str) -> str:
    return url.split("@")[-1]


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "prepare":
        print(__doc__)
        sys.exit(2)
    sys.exit(prepare(sys.argv[2], sys.argv[3]))
