"""One lazily built Redis connection per app; an in-process fake when REDIS_URL is unset.

With REDIS_SENTINELS the connection is the master that the Sentinels name, found again after a
failover; every Redis use (queues and workers, de-duplication, the token cache, back-off) goes
through `get_redis()`, and Flask-Limiter gets the same Sentinels as a redis+sentinel:// URL.
"""
from __future__ import annotations

import fakeredis
import redis
from flask import current_app
from redis.sentinel import Sentinel

CONNECT_TIMEOUT = 2
SOCKET_TIMEOUT = 5


def parse_sentinels(value: str) -> list[tuple[str, int]]:
    """"host:port,host:port" as [(host, port), ...]; a missing port is Sentinel's 26379."""
    hosts = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "26379")
        hosts.append((host.strip("[]"), int(port or 26379)))
    if not hosts:
        raise ValueError("REDIS_SENTINELS names no host")
    return hosts


def build_redis(config):
    """A Redis client for this config: the Sentinels' master, REDIS_URL, or None for the fake."""
    sentinels = config.get("REDIS_SENTINELS")
    if sentinels:
        sentinel_kwargs = {"socket_connect_timeout": CONNECT_TIMEOUT,
                           "socket_timeout": CONNECT_TIMEOUT}
        if config.get("REDIS_SENTINEL_PASSWORD"):
            sentinel_kwargs["password"] = config["REDIS_SENTINEL_PASSWORD"]
        sentinel = Sentinel(parse_sentinels(sentinels), sentinel_kwargs=sentinel_kwargs)
        return sentinel.master_for(config.get("REDIS_SENTINEL_MASTER") or "anju",
                                   password=config.get("REDIS_PASSWORD"),
                                   db=int(config.get("REDIS_DB") or 0),
                                   socket_connect_timeout=CONNECT_TIMEOUT,
                                   socket_timeout=SOCKET_TIMEOUT)
    url = config.get("REDIS_URL")
    if url:
        return redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT,
                                    socket_timeout=SOCKET_TIMEOUT)
    return None


def get_redis():
    """The app's Redis client (real with REDIS_URL or REDIS_SENTINELS, fakeredis for the demo)."""
    conn = current_app.extensions.get("anju_redis")
    if conn is None:
        conn = build_redis(current_app.config)
        if conn is None:
            conn = fakeredis.FakeRedis()
        current_app.extensions["anju_redis"] = conn
    return conn
