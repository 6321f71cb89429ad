"""The fake WeChat API's parametric QR codes and custom menu (routes on wechat.sandbox.api.bp)."""
from __future__ import annotations

import base64
import secrets

from wechat.sandbox import store
from wechat.sandbox.account import setting
from wechat.sandbox.api import (
    QR_ACTIONS, QR_TEMP_DEFAULT_SECONDS, QR_TEMP_MAX_SECONDS, ApiError, _body, _caller, _json,
    _require, bp,
)

# --- QR codes and menu ------------------------------------------------------------------------------

def _qr_scene(body: dict) -> tuple[str, str]:
    """The QR action and its scene (id or string) as text; 40053 when either is wrong."""
    action = body.get("action_name")
    scene = (body.get("action_info") or {}).get("scene") if isinstance(body.get("action_info"), dict) else None
    if action not in QR_ACTIONS or not isinstance(scene, dict):
        raise ApiError(40053, "invalid action info")
    key = "scene_str" if "STR" in action else "scene_id"
    if scene.get(key) in (None, ""):
        raise ApiError(40053, "invalid action info")
    return action, str(scene[key])


def _qr_expiry(body: dict) -> int:
    """A temporary QR code's lifetime in seconds, within WeChat's bounds."""
    try:
        expire = int(body.get("expire_seconds") or QR_TEMP_DEFAULT_SECONDS)
    except (TypeError, ValueError):
        raise ApiError(47001, "data format error") from None
    return max(1, min(expire, QR_TEMP_MAX_SECONDS))


@bp.route("/cgi-bin/qrcode/create", methods=["GET", "POST"])
def qrcode_create():
    """Create a parametric QR code (temporary or permanent, numeric or string scene)."""
    _require("POST")
    _caller(setting("WECHAT_APP_ID"))
    body = _body()
    action, scene = _qr_scene(body)
    temporary = not action.startswith("QR_LIMIT")
    expire = _qr_expiry(body) if temporary else None
    short = secrets.token_urlsafe(16)
    ticket = base64.b64encode(b"\x00\x00" + f"http://weixin.qq.com/q/{short}".encode()).decode()
    store.save_qrcode(ticket, {"action_name": action, "scene": scene, "url": f"http://weixin.qq.com/q/{short}"},
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
