"""Redis through Sentinel: REDIS_SENTINELS configures every Redis use through app/redis_conn.py
(and Flask-Limiter's storage), and a failover is followed without a restart.

The failover test runs a private redis master, its replica and one Sentinel on free loopback
ports (never the shared Redis), in the pass that has real Redis (TEST_REDIS_URL).
"""
from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest
from flask import Flask

from app import limiter_storage_uri
from app.config import load_config
from app.redis_conn import build_redis, get_redis, parse_sentinels


def test_sentinel_settings_turn_jobs_on_and_give_rate_limits_a_sentinel_url(monkeypatch, tmp_path):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_SENTINELS", "10.0.0.51:26379,10.0.0.52:26379")
    monkeypatch.setenv("REDIS_SENTINEL_MASTER", "anju-city")
    config = load_config(str(tmp_path))
    assert config["REDIS_URL"] == "redis+sentinel://10.0.0.51:26379,10.0.0.52:26379/anju-city"
    assert limiter_storage_uri(config) == config["REDIS_URL"]


def test_sentinel_list_is_parsed_with_the_default_port():
    assert parse_sentinels(" a:1 , b ,[::1]:26380") == [("a", 1), ("b", 26379), ("::1", 26380)]
    with pytest.raises(ValueError):
        parse_sentinels(" , ")


def test_without_sentinels_the_url_is_used_and_without_either_the_fake():
    assert build_redis({"REDIS_URL": None}) is None
    client = build_redis({"REDIS_URL": "redis://127.0.0.1:1/3"})
    assert client.connection_pool.connection_kwargs["db"] == 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _failover(watcher) -> bool:
    """Ask the Sentinel for a failover; False while it has no replica it considers good."""
    import redis

    try:
        return watcher.execute_command("SENTINEL", "FAILOVER", "anju") in (b"OK", True)
    except redis.exceptions.ResponseError as exc:
        if "NOGOODSLAVE" in str(exc):
            return False
        raise


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - not up yet
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture()
def sentinel_setup(tmp_path):
    """Master, replica and one Sentinel (quorum 1) of our own; all stopped afterwards."""
    if not os.environ.get("TEST_REDIS_URL"):
        pytest.skip("runs in the real-Redis pass (TEST_REDIS_URL)")
    import redis

    master, replica, sentinel = _free_port(), _free_port(), _free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"]
    (tmp_path / "m").mkdir()
    (tmp_path / "r").mkdir()  # the replica writes the master's snapshot into its --dir
    procs = [subprocess.Popen(["redis-server", "--port", str(master), *common, "--dir",
                               str(tmp_path / "m")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
             subprocess.Popen(["redis-server", "--port", str(replica), *common, "--dir",
                               str(tmp_path / "r"), "--replicaof", "127.0.0.1", str(master)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {sentinel}\nbind 127.0.0.1\nprotected-mode no\ndir {tmp_path}\n"
                    f"sentinel monitor anju 127.0.0.1 {master} 1\n"
                    "sentinel down-after-milliseconds anju 1000\n"
                    "sentinel failover-timeout anju 5000\n")
    procs.append(subprocess.Popen(["redis-server", str(conf), "--sentinel"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        watcher = redis.Redis(port=sentinel, socket_timeout=2)
        _wait(lambda: watcher.sentinel_slaves("anju"), 20, "the Sentinel to see the replica")
        _wait(lambda: redis.Redis(port=replica).info("replication")["master_link_status"] == "up",
              20, "the replica to sync")
        yield {"master": master, "replica": replica, "sentinel": sentinel, "watcher": watcher}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_jobs_and_rate_limits_follow_a_sentinel_failover(sentinel_setup):
    import redis
    from limits import RateLimitItemPerMinute
    from limits.storage import storage_from_string
    from limits.strategies import FixedWindowRateLimiter

    from workers.queues import get_queue

    s = sentinel_setup
    app = Flask("sentinel-test")
    app.config.update(REDIS_SENTINELS=f"127.0.0.1:{s['sentinel']}", REDIS_SENTINEL_MASTER="anju",
                      REDIS_DB=0, REDIS_URL=f"redis+sentinel://127.0.0.1:{s['sentinel']}/anju")
    with app.app_context():
        conn = get_redis()
        conn.set("anju:test:before", "1")
        job = get_queue("default").enqueue("workers.jobs.warm_up")
        assert redis.Redis(port=s["master"]).get("anju:test:before") == b"1"
        assert redis.Redis(port=s["master"]).exists(f"rq:job:{job.id}")

        limits = FixedWindowRateLimiter(storage_from_string(limiter_storage_uri(app.config)))
        item = RateLimitItemPerMinute(2)
        assert limits.hit(item, "wx:1") and limits.hit(item, "wx:1")
        assert not limits.hit(item, "wx:1")

        # Sentinel refreshes what it knows of the replica every few seconds: until it has seen
        # the replica's link up it answers NOGOODSLAVE, so ask again until it accepts.
        assert _wait(lambda: _failover(s["watcher"]), 30, "the Sentinel to accept the failover")
        _wait(lambda: s["watcher"].sentinel_get_master_addr_by_name("anju")[1] == s["replica"],
              30, "the replica to be promoted")
        _wait(lambda: redis.Redis(port=s["replica"]).info("replication")["role"] == "master",
              30, "the promoted replica to accept writes")
        _wait(lambda: redis.Redis(port=s["master"]).info("replication")["role"] == "slave",
              30, "the old master to be turned into a replica")

        # The same client object, no restart: writes now land on the promoted replica.
        _wait(lambda: conn.set("anju:test:after", "2"), 30, "a write after the failover")
        assert redis.Redis(port=s["replica"]).get("anju:test:after") == b"2"
        assert redis.Redis(port=s["replica"]).exists(f"rq:job:{job.id}")  # replicated before
        assert get_queue("default").enqueue("workers.jobs.warm_up").id
        _wait(lambda: not limits.hit(item, "wx:1"), 30, "the rate limit on the new master")
