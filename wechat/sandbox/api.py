"""The fake WeChat HTTP API: WeChat's own paths, parameters, JSON shapes and errcodes.

Mounted at /wechat-sandbox/api/, which stands in for https://api.weixin.qq.com/, so wechatpy's
client works against it unmodified. Every call it receives is recorded in the sandbox store.
"""
from __future__ import annotations

import base64
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
    msgid = store.next_msgid()
    store.record_sent_message({
        "kind": "template", "msgid": msgid, "touser": touser, "template_id": body["template_id"],
        "url": body.get("url"), "miniprogram": body.get("miniprogram"), "data": body.get("data") or {},
        "at": time.time(),
    })
    return _json({"errcode": 0, "errmsg": "ok", "msgid": msgid})


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
    msgid = store.next_msgid()
    store.record_sent_message({
        "kind": "subscribe", "msgid": msgid, "touser": touser, "template_id": body["template_id"],
        "page": body.get("page"), "data": body.get("data") or {}, "at": time.time(),
    })
    return _json({"errcode": 0, "errmsg": "ok", "msgid": msgid})


@bp.route("/cgi-bin/message/custom/send", methods=["GET", "POST"])
def custom_send():
    """A customer-service message (text or news): how a slow job answers a user after the callback."""
    _require("POST")
    _caller(setting("WECHAT_APP_ID"))
    body = _body()
    touser = body.get("touser")
    user = _recipient(touser, "openid")
    kind = body.get("msgtype")
    if kind == "text" and isinstance(body.get("text"), dict) and body["text"].get("content"):
        reply = {"type": "text", "content": str(body["text"]["content"])}
    elif kind == "news" and isinstance(body.get("news"), dict) and isinstance(body["news"].get("articles"), list):
        articles = [a for a in body["news"]["articles"] if isinstance(a, dict)]
        if not articles:
            raise ApiError(47001, "data format error")
        reply = {"type": "news", "articles": [
            {"title": str(a.get("title", "")), "description": str(a.get("description", "")),
             "picurl": str(a.get("picurl", "")), "url": str(a.get("url", ""))} for a in articles[:1]]}
    else:
        raise ApiError(40008, "invalid message type")
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


# --- QR codes and menu ------------------------------------------------------------------------------

@bp.route("/cgi-bin/qrcode/create", methods=["GET", "POST"])
def qrcode_create():
    """Create a parametric QR code (temporary or permanent, numeric or string scene)."""
    _require("POST")
    _caller(setting("WECHAT_APP_ID"))
    body = _body()
    action = body.get("action_name")
    scene = (body.get("action_info") or {}).get("scene") if isinstance(body.get("action_info"), dict) else None
    if action not in QR_ACTIONS or not isinstance(scene, dict):
        raise ApiError(40053, "invalid action info")
    key = "scene_str" if "STR" in action else "scene_id"
    if scene.get(key) in (None, ""):
        raise ApiError(40053, "invalid action info")
    temporary = not action.startswith("QR_LIMIT")
    expire = None
    if temporary:
        try:
            expire = int(body.get("expire_seconds") or QR_TEMP_DEFAULT_SECONDS)
        except (TypeError, ValueError):
            raise ApiError(47001, "data format error") from None
        expire = max(1, min(expire, QR_TEMP_MAX_SECONDS))
    short = secrets.token_urlsafe(16)
    ticket = base64.b64encode(b"\x00\x00" + f"http://weixin.qq.com/q/{short}".encode()).decode()
    store.save_qrcode(ticket, {"action_name": action, "scene": str(scene[key]), "url": f"http://weixin.qq.com/q/{short}"},
                      expire)
    answer = {"ticket": ticket, "url": f"http://weixin.qq.com/q/{short}"}
    if temporary:
        answer = {"ticket": ticket, "expire_seconds": expire, "url": answer["url"]}
    return _json(answer)


def _check_buttons(buttons, sub: bool = False) -> None:
    size, btype, name, key, url = (40023, 40024, 40025, 40026, 40027) if sub else (40016, 40017, 40018, 40019, 40020)
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= (5 if sub else 3):
        raise ApiError(size, "invalid sub button size" if sub else "invalid button size")
    for button in buttons:
        if not isinstance(button, dict) or not isinstance(button.get("name"), str) or not button["name"]:
            raise ApiError(name, "invalid button name size")
        if not sub and "sub_button" in button and "type" not in button:
            _check_buttons(button["sub_button"], sub=True)
            continue
        kind = button.get("type")
        if kind == "click":
            if not button.get("key"):
                raise ApiError(key, "invalid button key size")
        elif kind == "view":
            if not str(button.get("url", "")).startswith(("http://", "https://")):
                raise ApiError(url, "invalid button url size")
        elif kind not in ("miniprogram", "scancode_push", "scancode_waitmsg", "pic_sysphoto",
                          "pic_photo_or_album", "pic_weixin", "location_select", "media_id",
                          "article_id", "article_view_limited"):
            raise ApiError(btype, "invalid button type")


@bp.route("/cgi-bin/menu/create", methods=["GET", "POST"])
def menu_create():
    """Publish the custom menu (checked the way WeChat checks it)."""
    _require("POST")
    _caller(setting("WECHAT_APP_ID"))
    body = _body()
    _check_buttons(body.get("button"))
    store.save_menu(body)
    return _json({"errcode": 0, "errmsg": "ok"})


@bp.route("/cgi-bin/menu/get", methods=["GET", "POST"])
def menu_get():
    """The published menu (46003 when there is none)."""
    _require("GET")
    _caller(setting("WECHAT_APP_ID"))
    menu = store.menu()
    if menu is None:
        raise ApiError(46003, "menu no exist")
    return _json({"menu": menu})


# --- web OAuth (H5) ---------------------------------------------------------------------------------

@bp.route("/sns/oauth2/access_token", methods=["GET", "POST"])
def oauth_access_token():
    """Exchange a single-use OAuth code (valid 300 s) for the user's openid and a web token."""
    _require("GET")
    if request.args.get("grant_type") != "authorization_code":
        raise ApiError(40002, "invalid grant_type")
    appid = request.args.get("appid")
    _check_app(appid, request.args.get("secret"))
    grant = store.consume_oauth_code(request.args.get("code", ""))
    if grant is None or grant["appid"] != appid:
        raise ApiError(40029, "invalid code")
    issued = store.issue_web_token(grant["openid"], appid, grant["scope"])
    return _json({key: issued[key] for key in ("access_token", "expires_in", "refresh_token", "openid", "scope")})


@bp.route("/sns/oauth2/refresh_token", methods=["GET", "POST"])
def oauth_refresh_token():
    """Refresh a web OAuth access token."""
    _require("GET")
    if request.args.get("grant_type") != "refresh_token":
        raise ApiError(40002, "invalid grant_type")
    grant = store.refresh_token_grant(request.args.get("refresh_token"))
    if grant is None or grant["appid"] != request.args.get("appid"):
        raise ApiError(40030, "invalid refresh_token")
    issued = store.issue_web_token(grant["openid"], grant["appid"], grant["scope"])
    return _json({key: issued[key] for key in ("access_token", "expires_in", "refresh_token", "openid", "scope")})


@bp.route("/sns/userinfo", methods=["GET", "POST"])
def oauth_userinfo():
    """The user's profile, only with a snsapi_userinfo grant."""
    _require("GET")
    grant = store.web_token_grant(request.args.get("access_token"))
    if grant is None:
        raise ApiError(40001, "invalid credential, access_token is invalid or not latest")
    if grant["scope"] != "snsapi_userinfo":
        raise ApiError(48001, "api unauthorized")
    if request.args.get("openid") != grant["openid"]:
        raise ApiError(40003, "invalid openid")
    user = store.get_user(grant["openid"]) or {}
    return _json({"openid": grant["openid"], "nickname": user.get("nickname", ""), "sex": 0,
                  "province": "", "city": "", "country": "", "headimgurl": "", "privilege": [],
                  "unionid": user.get("unionid")})


@bp.route("/sns/auth", methods=["GET", "POST"])
def oauth_check():
    """Whether a web OAuth access token is still valid for this openid."""
    _require("GET")
    grant = store.web_token_grant(request.args.get("access_token"))
    if grant is None:
        raise ApiError(40001, "invalid credential, access_token is invalid or not latest")
    if request.args.get("openid") != grant["openid"]:
        raise ApiError(40003, "invalid openid")
    return _json({"errcode": 0, "errmsg": "ok"})


# --- mini-program -------------------------------------------------------------------------------------

@bp.route("/sns/jscode2session", methods=["GET", "POST"])
def jscode2session():
    """Exchange a mini-program login code for the mini-program openid, session_key and unionid."""
    _require("GET")
    appid = request.args.get("appid")
    if appid != setting("WECHAT_MINIAPP_ID"):
        raise ApiError(40013, "invalid appid")
    _check_app(appid, request.args.get("secret"))
    if request.args.get("grant_type") != "authorization_code":
        raise ApiError(40002, "invalid grant_type")
    grant = store.consume_js_code(request.args.get("js_code", ""))
    user = store.get_user(grant["openid"]) if grant else None
    if user is None:
        raise ApiError(40029, "invalid code")
    session_key = base64.b64encode(secrets.token_bytes(16)).decode()
    return _json({"openid": user["miniapp_openid"], "session_key": session_key, "unionid": user["unionid"]})


@bp.route("/<path:anything>", methods=["GET", "POST"])
def not_faked(anything: str):
    """Any other WeChat API: the sandbox does not fake it, and says so the WeChat way."""
    raise ApiError(48001, f"api unauthorized (the sandbox does not fake {anything})")
