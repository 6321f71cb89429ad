"""One place that turns errors into clear answers: JSON under /api, Chinese pages elsewhere."""
from __future__ import annotations

import redis.exceptions
from flask import Flask, Response, jsonify, render_template, request
from marshmallow import ValidationError
from sqlalchemy import exc
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.field_errors import FieldError
from app.services.errors import Forbidden, NotFound, StateConflict

MESSAGES = {
    400: "请求有误",
    401: "请先登录",
    403: "没有权限",
    404: "页面不存在",
    405: "不支持该请求方式",
    413: "提交的内容过大",
    429: "操作过于频繁，请稍后再试",
    500: "系统繁忙，请稍后再试",
    503: "系统暂时无法处理，请稍后再试",
}
# How long a client should wait when the database or Redis is unreachable (a restart, failover).
RETRY_AFTER_SECONDS = 5


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def flatten_messages(messages, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested messages → {"tenants.0.document_number": "…"}."""
    flat: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_messages(value, name))
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = "；".join(messages)
    elif isinstance(messages, list):
        for i, value in enumerate(messages):
            flat.update(flatten_messages(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        flat[prefix or "_schema"] = str(messages)
    return flat


def error_body(code: int, message: str, fields: dict | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean a backing server is away for now, not that the request was wrong."""
    return (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError,
            redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _json_answer(code: int, message: str):
    return jsonify(error_body(code, message)), code


def _page_answer(code: int, message: str):
    return render_template("error.html", code=code, message=message), code


def _wechat_reply(code: int, message: str):
    # WeChat shows the user "该公众号暂时无法提供服务" for anything but "success" or a reply.
    return Response("success", mimetype="text/plain")


# How each blueprint family answers a domain error (NotFound, Forbidden) of the services below:
# the API and the mini-program login a JSON error body, the WeChat callback a reply WeChat
# accepts, the H5 pages, the console and the rest a Chinese page.
FAMILY_ANSWERS = {"api": _json_answer, "wechat_miniapp": _json_answer,
                  "wechat_callback": _wechat_reply}


def domain_answer(code: int, message: str | None):
    """The answer of the request's blueprint family to a domain error."""
    answer = FAMILY_ANSWERS.get(request.blueprint or "")
    if answer is None:
        answer = _json_answer if _wants_json() else _page_answer
    return answer(code, message or MESSAGES[code])


def _forget_session() -> None:
    """Drop the request's session and its connection (possibly dead) so the next request
    starts clean; the pool's pre-ping replaces dead connections."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone already: nothing to roll back
        pass
    db.session.remove()


def register(app: Flask) -> None:
    @app.errorhandler(ValidationError)
    def validation_error(exc: ValidationError):
        db.session.rollback()
        fields = flatten_messages(exc.messages)
        if _wants_json():
            return jsonify(error_body(400, "提交的信息有误，请检查标出的项目", fields)), 400
        return render_template("error.html", code=400, message="；".join(fields.values())), 400

    @app.errorhandler(FieldError)
    def rule_error(exc):
        db.session.rollback()  # nothing half-proposed survives a refused submission
        fields = {exc.field: exc.message}
        if _wants_json():
            return jsonify(error_body(400, exc.message, fields)), 400
        return render_template("error.html", code=400, message=exc.message), 400

    @app.errorhandler(StateConflict)
    def state_conflict(exc):
        db.session.rollback()
        if _wants_json():
            return jsonify(error_body(409, exc.message, {exc.field: exc.message})), 409
        return render_template("error.html", code=409, message=exc.message), 409

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound):  # ownership's NotYours too: "未找到，或您无权查看"
        return domain_answer(404, exc.message)

    @app.errorhandler(Forbidden)
    def forbidden(exc: Forbidden):
        return domain_answer(403, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        message = MESSAGES.get(code, exc.name)
        if exc.description and any("\u4e00" <= ch <= "\u9fff" for ch in exc.description):
            message = exc.description  # an explicit Chinese description from abort()
        if _wants_json():
            return jsonify(error_body(code, message)), code
        return render_template("error.html", code=code, message=message), code

    def unavailable(exc: Exception):
        _forget_session()
        app.logger.warning("backing server unavailable on %s: %s: %s", request.path,
                           type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "")
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if request.path.startswith("/wechat/callback"):
            # WeChat shows the user "该公众号暂时无法提供服务" for anything but "success" or a
            # reply; the callback forgot the message's de-duplication key, so a retry is new.
            return Response("success", status=503, mimetype="text/plain", headers=headers)
        if _wants_json():
            return jsonify(error_body(503, MESSAGES[503])), 503, headers
        return render_template("error.html", code=503, message=MESSAGES[503]), 503, headers

    for error_class in _unavailable_errors():
        app.register_error_handler(error_class, unavailable)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error on %s", request.path)
        if _wants_json():
            return jsonify(error_body(500, MESSAGES[500])), 500
        return render_template("error.html", code=500, message=MESSAGES[500]), 500
