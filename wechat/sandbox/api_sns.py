"""The fake WeChat API's web OAuth (H5) and mini-program login (routes on wechat.sandbox.api.bp)."""
from __future__ import annotations

import base64
import secrets

from flask import request

from wechat.sandbox import store
from wechat.sandbox.account import setting
from wechat.sandbox.api import ApiError, _check_app, _json, _require, bp

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


def _web_grant(scope: str | None = None) -> dict:
    """The grant behind a web access_token for the openid asked about (and the scope needed)."""
    grant = store.web_token_grant(request.args.get("access_token"))
    if grant is None:
        raise ApiError(40001, "invalid credential, access_token is invalid or not latest")
    if scope is not None and grant["scope"] != scope:
        raise ApiError(48001, "api unauthorized")
    if request.args.get("openid") != grant["openid"]:
        raise ApiError(40003, "invalid openid")
    return grant


@bp.route("/sns/userinfo", methods=["GET", "POST"])
def oauth_userinfo():
    """The user's profile, only with a snsapi_userinfo grant."""
    _require("GET")
    grant = _web_grant(scope="snsapi_userinfo")
    user = store.get_user(grant["openid"]) or {}
    return _json({"openid": grant["openid"], "nickname": user.get("nickname", ""), "sex": 0,
                  "province": "", "city": "", "country": "", "headimgurl": "", "privilege": [],
                  "unionid": user.get("unionid")})


@bp.route("/sns/auth", methods=["GET", "POST"])
def oauth_check():
    """Whether a web OAuth access token is still valid for this openid."""
    _require("GET")
    _web_grant()
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
