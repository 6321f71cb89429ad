"""Riding out a Redis outage: back off between attempts, and say so once per outage, not per try."""
from __future__ import annotations

import logging
import os
import re
import time

import redis.exceptions

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class RedisOutage:
    """Tracks one outage at a time: `down()` logs its start once, `up()` logs its end once, and
    `delay()` grows from `first` to `longest` seconds between reconnection attempts."""

    def __init__(self, log=print, first: float = 0.5, longest: float = 5.0,
                 clock=time.monotonic):
        self.log, self.first, self.longest, self.clock = log, first, longest, clock
        self.since: float | None = None
        self._next = first

    @property
    def ongoing(self) -> bool:
        return self.since is not None

    def down(self, exc: BaseException | str) -> None:
        if self.since is None:
            self.since = self.clock()
            self._next = self.first
            self.log(f"Redis unreachable ({exc}); reconnecting with back-off up to "
                     f"{self.longest:g} s")

    def up(self) -> None:
        if self.since is not None:
            self.log(f"Redis reachable again after {self.clock() - self.since:.1f} s")
            self.since = None

    def delay(self) -> float:
        """Seconds to wait before the next attempt (doubling, capped)."""
        delay, self._next = self._next, min(self._next * 2, self.longest)
        return delay

    def wait(self, connection, stop=lambda: False, sleep=time.sleep) -> bool:
        """Block until `connection` answers PING (True) or `stop()` (False)."""
        while not stop():
            try:
                connection.ping()
            except REDIS_ERRORS as exc:
                self.down(exc)
                sleep(self.delay())
                continue
            self.up()
            return True
        return False


# RQ's own lines for a lost connection, logged on every retry (the pubsub thread every 2 s), and
# the traceback its scheduler process logs when Redis goes away under it.
_RQ_REDIS_LINES = re.compile(r"could not connect to Redis|Redis connection timeout|"
                             r"redis\.exceptions\.(ConnectionError|TimeoutError)")


class OncePerOutage(logging.Filter):
    """Drops RQ's per-retry Redis connection errors; the outage itself is reported once."""

    def __init__(self, outage: RedisOutage):
        super().__init__()
        self.outage = outage
        self.pid = os.getpid()  # forked children (work-horse, RQ's scheduler) log as before

    def filter(self, record: logging.LogRecord) -> bool:
        if os.getpid() != self.pid:
            return True
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, REDIS_ERRORS) or _RQ_REDIS_LINES.search(record.getMessage()):
            self.outage.down(error or "connection lost")
            return False
        return True
