"""Logging: JSON lines in production, text in development; one line per request; request ids.

The request line names the endpoint (never the raw URL or its query string), the status, the
duration, the request id and who asked (officer id or WeChat user id) — never a document number,
phone or name. The request id comes from nginx's X-Request-ID (or is made here), is returned in
the response and travels into the jobs the request enqueues (RQ job meta), whose lines carry it.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import Flask, g, has_request_context, request
from sqlalchemy import inspect as sa_inspect

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")  # anything else is replaced, not logged
_job_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "anju_job_request_id", default=None)

request_log = logging.getLogger("anju.request")
job_log = logging.getLogger("anju.job")


def current_request_id() -> str | None:
    """The id of the request (or of the job, inherited from its request) being served."""
    if has_request_context() and g.get("request_id"):
        return g.request_id
    return _job_request_id.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC), level, logger, msg, and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": datetime.fromtimestamp(record.created, timezone.utc)
                .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "level": record.levelname.lower(), "logger": record.name,
                "msg": record.getMessage()}
        line.update(getattr(record, "fields", None) or {})
        request_id = line.get("request_id") or current_request_id()
        if request_id:
            line["request_id"] = request_id
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable: time, level, logger, message, then key=value fields."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None) or {}
        return text + "".join(f" {k}={v}" for k, v in fields.items()) if fields else text


def log_format(config) -> str:
    """LOG_FORMAT if set (json | text), else json in production and text elsewhere."""
    chosen = (config.get("LOG_FORMAT") or "").strip().lower()
    if chosen in ("json", "text"):
        return chosen
    return "json" if config.get("APP_ENV") == "production" else "text"


def configure_logging(config) -> None:
    """Install (once, replacing an earlier one) the root handler writing to stderr."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "anju", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.anju = True
    handler.setFormatter(JsonFormatter() if log_format(config) == "json" else TextFormatter())
    root.addHandler(handler)
    level = (config.get("LOG_LEVEL") or "INFO").upper()
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")


def _primary_key(obj) -> int | None:
    """A model's id from its identity key, never by loading: after a database outage the session
    is gone and an expired attribute could not be loaded again."""
    state = sa_inspect(obj, raiseerr=False)
    identity = state.identity if state is not None else None
    return identity[0] if identity else getattr(obj, "__dict__", {}).get("id")


def _who() -> dict:
    """Officer id or WeChat user id, from what the request already loaded (no extra query)."""
    officer = g.get("_login_user")  # Flask-Login's cache; set only when the view used it
    # ConsoleUser wraps the Officer (the anonymous user has none). Never is_authenticated: it
    # loads the officer, which after a database outage mid-request is detached, and the log
    # line would turn the 503 into a 500. Never get_id(): that is the session token.
    if (inner := getattr(officer, "officer", None)) is not None:
        return {"officer_id": _primary_key(inner)}
    wx_user = g.get("wx_user")
    if wx_user is not None:
        return {"wechat_user_id": _primary_key(wx_user)}
    if g.get("api_user_id"):
        return {"wechat_user_id": g.api_user_id}
    return {}


def init_request_logging(app: Flask, observe=None) -> None:
    """Give each request an id and one log line; `observe(endpoint, method, status, seconds)`
    (the metrics' request counter, wired by the factory) sees every answered request."""
    @app.before_request
    def start_request():
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def finish_request(response):
        started = g.get("request_started")
        if started is None:  # before_request never ran (an earlier before_request answered)
            return response
        elapsed = time.perf_counter() - started
        response.headers[REQUEST_ID_HEADER] = g.request_id
        endpoint = request.endpoint or "unmatched"
        if observe is not None:
            observe(endpoint, request.method, response.status_code, elapsed)
        request_log.info("request", extra={"fields": {
            "method": request.method, "endpoint": endpoint, "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 1), "request_id": g.request_id, **_who()}})
        return response


class job_context:
    """Around one job: its request id (from job meta) on every line, and a start/end line."""

    def __init__(self, job):
        self.job = job
        self.token = None
        self.ok = None  # the worker sets what perform_job returned (RQ catches job errors itself)

    def __enter__(self):
        meta = getattr(self.job, "meta", None) or {}
        self.token = _job_request_id.set(meta.get("request_id"))
        self.started = time.perf_counter()
        job_log.info("job started", extra={"fields": self._fields()})
        return self

    def __exit__(self, exc_type, exc, tb):
        fields = self._fields()
        fields["duration_ms"] = round((time.perf_counter() - self.started) * 1000, 1)
        fields["outcome"] = "failed" if exc_type or self.ok is False else "done"
        job_log.info("job finished", extra={"fields": fields})
        _job_request_id.reset(self.token)
        return False

    def _fields(self) -> dict:
        fields = {"job": self.job.func_name.rsplit(".", 1)[-1], "job_id": self.job.id,
                  "queue": getattr(self.job, "origin", None), "request_id": _job_request_id.get()}
        return {key: value for key, value in fields.items() if value is not None}
