"""One lazily built Redis connection per app; an in-process fake when REDIS_URL is unset."""
from __future__ import annotations

from flask import current_app


def get_redis():
    """The app's Redis client (real with REDIS_URL, fakeredis for the embedded demo)."""
    conn = current_app.extensions.get("anju_redis")
    if conn is None:
        url = current_app.config.get("REDIS_URL")
        if url:
            import redis

            conn = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        else:
            import fakeredis

            conn = fakeredis.FakeRedis()
        current_app.extensions["anju_redis"] = conn
    return conn
