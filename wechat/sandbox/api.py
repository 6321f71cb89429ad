"""The fake WeChat HTTP API: WeChat's own paths, parameters, JSON shapes and errcodes.

Mounted at /wechat-sandbox/api/, which stands in for https://api.weixin.qq.com/, so wechatpy's
client works against it unmodified. Every call it receives is recorded in the sandbox store.
"""
from __future__ import annotations

import hmac
import json
import re
import secrets
import time

from flask import Blueprint, Response, request

from wechat.sandbox import store
from wechat.sandbox.account import app_credentials, setting

API_PREFIX = "/wechat-sandbox/api"
bp = Blueprint("wechat_sandbox_api", __name__, url_prefix=API_PREFIX)

TOKEN_DAILY_LIMIT = 2000
QR_TEMP_DEFAULT_SECONDS = 30
QR_TEMP_MAX_SECONDS = 2592000
QR_ACTIONS = ("QR_SCENE", "QR_STR_SCENE", "QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE")
OPENID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ApiError(Exception):
    """A WeChat error answer: HTTP 200 with errcode/errmsg, as WeChat does."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


def _json(body: dict) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")


def _rid() -> str:
    return "-".join(secrets.token_hex(4) for _ in range(3))


@bp.errorhandler(ApiError)
def api_error(exc: ApiError):
    """WeChat answers errors with HTTP 200 and errcode/errmsg (plus a request id)."""
    return _json({"errcode": exc.errcode, "errmsg": f"{exc.errmsg} rid: {_rid()}"})


@bp.after_request
def record(response: Response):
    """Record every call (secrets masked) with the errcode it got."""
    try:
        answer = json.loads(response.get_data(as_text=True) or "{}")
    except ValueError:
        answer = {}
    params = {k: ("***" if k == "secret" else v) for k, v in request.args.items()}
    body = request.get_data(as_text=True)
    try:
        body = json.loads(body) if body else None
    except ValueError:
        pass
    if isinstance(body, dict) and "secret" in body:
        body = {**body, "secret": "***"}
    store.record_call({
        "path": request.path.removeprefix(API_PREFIX).lstrip("/"),
        "method": request.method, "params": params, "body": body,
        "errcode": answer.get("errcode", 0) if isinstance(answer, dict) else 0, "at": time.time(),
    })
    return response


def _require(method: str) -> None:
    if request.method != method:
        raise ApiError(43001, "require GET method") if method == "GET" else ApiError(43002, "require POST method")


def _body() -> dict:
    try:
        data = json.loads(request.get_data(as_text=True) or "")
    except ValueError:
        raise ApiError(47001, "data format error") from None
    if not isinstance(data, dict):
        raise ApiError(47001, "data format error")
    return data


def _check_app(appid: str | None, secret: str | None) -> None:
    credentials = app_credentials()
    if not appid or appid not in credentials:
        raise ApiError(40013, "invalid appid")
    if not secret or not hmac.compare_digest(str(secret), str(credentials[appid])):
        raise ApiError(40125, "invalid appsecret")


def _caller(expected_appid: str) -> str:
    """The appid behind the request's access_token; WeChat's errcodes when it is missing or wrong."""
    token = request.args.get("access_token")
    if not token:
        raise ApiError(41001, "access_token missing")
    appid = store.token_appid(token)
    if appid is None:
        raise ApiError(40001, "invalid credential, access_token is invalid or not latest")
    if appid != expected_appid:
        raise ApiError(48001, "api unauthorized")
    return appid


def _recipient(touser, id_field: str) -> dict:
    """The fake user a message is for; a well-formed openid the sandbox never issued is adopted."""
    if not isinstance(touser, str) or not OPENID_RE.match(touser):
        raise ApiError(40003, "invalid openid")
    user = store.get_user(touser) or store.adopt_user(touser)
    if user[id_field] != touser:
        # An official-account openid sent to the mini-program's API, or the other way round.
        raise ApiError(40003, "invalid openid")
    return user


def _check_template(body: dict) -> None:
    if not isinstance(body.get("template_id"), str) or not body["template_id"]:
        raise ApiError(40037, "invalid template_id")
    data = body.get("data")
    if data is not None and not isinstance(data, dict):
        raise ApiError(47001, "data format error")
    for name, item in (data or {}).items():
        if not isinstance(item, dict) or "value" not in item:
            raise ApiError(47003, f"argument invalid! data.{name}.value is empty")


def _count_token_call() -> None:
    # Counted before any check, as WeChat counts every call against the daily 2,000.
    if store.count_token_call() > TOKEN_DAILY_LIMIT:
        raise ApiError(45009, "reach max api daily quota limit")


def _issue_token(appid: str, stable: bool, force_refresh: bool = False) -> Response:
    token, expires_in = store.issue_access_token(appid, stable=stable, force_refresh=force_refresh)
    return _json({"access_token": token, "expires_in": expires_in})


def _sent(kind: str, touser: str, body: dict, **fields) -> Response:
    """Record a template or subscribe message as sent and answer with its msgid."""
    msgid = store.next_msgid()
    store.record_sent_message({
        "kind": kind, "msgid": msgid, "touser": touser, "template_id": body["template_id"],
        **fields, "data": body.get("data") or {}, "at": time.time(),
    })
    return _json({"errcode": 0, "errmsg": "ok", "msgid": msgid})


def _custom_reply(body: dict) -> dict:
    """A customer-service message's text or (first) news article, as the simulator's chat shows it."""
    kind = body.get("msgtype")
    if kind == "text" and isinstance(body.get("text"), dict) and body["text"].get("content"):
        return {"type": "text", "content": str(body["text"]["content"])}
    if kind == "news" and isinstance(body.get("news"), dict) and isinstance(body["news"].get("articles"), list):
        articles = [a for a in body["news"]["articles"] if isinstance(a, dict)]
        if not articles:
            raise ApiError(47001, "data format error")
        return {"type": "news", "articles": [
            {"title": str(a.get("title", "")), "description": str(a.get("description", "")),
             "picurl": str(a.get("picurl", "")), "url": str(a.get("url", ""))} for a in articles[:1]]}
    raise ApiError(40008, "invalid message type")


# --- basic support ----------------------------------------------------------------------------------

@bp.route("/cgi-bin/token", methods=["GET", "POST"])
def token():
    """Issue an access token (GET grant_type=client_credential&appid&secret)."""
    _count_token_call()
    _require("GET")
    if request.args.get("grant_type") != "client_credential":
        raise ApiError(40002, "invalid grant_type")
    _check_app(request.args.get("appid"), request.args.get("secret"))
    return _issue_token(request.args["appid"], stable=False)


@bp.route("/cgi-bin/stable_token", methods=["GET", "POST"])
def stable_token():
    """Issue the stable access token (POST JSON grant_type, appid, secret, force_refresh)."""
    _count_token_call()
    _require("POST")
    body = _body()
    if body.get("grant_type") != "client_credential":
        raise ApiError(40002, "invalid grant_type")
    _check_app(body.get("appid"), body.get("secret"))
    return _issue_token(body["appid"], stable=True, force_refresh=bool(body.get("force_refresh")))


# --- messages --------------------------------------------------------------------------------------

@bp.route("/cgi-bin/message/template/send", methods=["GET", "POST"])
def template_send():
    """Send an official-account template message to a fake user (43004 if not following)."""
    _require("POST")
    _caller(setting("WECHAT_APP_ID"))
    body = _body()
    touser = body.get("touser")
    user = _recipient(touser, "openid")
    _check_template(body)
    if not user["subscribed"]:
        raise ApiError(43004, "require subscribe")
    if store.sent_today("template") >= int(setting("WECHAT_TEMPLATE_DAILY_QUOTA")):
        raise ApiError(45009, "reach max api daily quota limit")
    return _sent("template", touser, body, url=body.get("url"), miniprogram=body.get("miniprogram"))


@bp.route("/cgi-bin/message/subscribe/send", methods=["GET", "POST"])
def subscribe_send():
    """Send a mini-program subscribe message to a fake user's mini-program openid."""
    _require("POST")
    _caller(setting("WECHAT_MINIAPP_ID"))
    body = _body()
    touser = body.get("touser")
    user = _recipient(touser, "miniapp_openid")
    _check_template(body)
    if not user.get("accepts_subscribe_messages", True):
        raise ApiError(43101, "user refuse to accept the msg")
    return _sent("subscribe", touser, body, page=body.get("page"))


@bp.route("/cgi-bin/message/custom/send", methods=["GET", "POST"])
def custom_send():
    """A customer-service message (text or news): how a slow job answers a user after the callback."""
    _require("POST")
    _caller(setting("WECHAT_APP_ID"))
    body = _body()
    touser = body.get("touser")
    user = _recipient(touser, "openid")
    reply = _custom_reply(body)
    if not user["subscribed"]:
        raise ApiError(43004, "require subscribe")
    store.append_chat(touser, {"direction": "out", "reply": reply, "via": "custom"})
    return _json({"errcode": 0, "errmsg": "ok"})


@bp.route("/cgi-bin/user/info", methods=["GET", "POST"])
def user_info():
    """A follower's basic information (WeChat no longer returns nickname or avatar here)."""
    _require("GET")
    _caller(setting("WECHAT_APP_ID"))
    openid = request.args.get("openid")
    user = _recipient(openid, "openid")
    if not user["subscribed"]:
        return _json({"subscribe": 0, "openid": openid, "unionid": user["unionid"]})
    return _json({"subscribe": 1, "openid": openid, "language": "zh_CN",
                  "subscribe_time": int(user.get("subscribed_at") or user["created_at"]),
                  "unionid": user["unionid"], "remark": "", "groupid": 0, "tagid_list": [],
                  "subscribe_scene": user.get("subscribe_scene", "ADD_SCENE_OTHERS"), "qr_scene": 0,
                  "qr_scene_str": user.get("qr_scene_str", "")})


# The QR/menu and OAuth/mini-program halves of the fake API add their routes to bp.
from wechat.sandbox import api_menu, api_sns  # noqa: E402,F401
