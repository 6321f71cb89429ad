"""The fake OAuth authorize page (open.weixin.qq.com/connect/oauth2/authorize) for H5 pages.

It knows "who is holding the phone" from the simulator's sandbox_openid cookie, issues a single-use
code bound to that user (300 s) and sends the browser back to redirect_uri with code and state.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, current_app, redirect as http_redirect, render_template, request

from wechat.sandbox import store
from wechat.sandbox.account import setting
from wechat.sandbox.simulator import COOKIE, require_csrf

bp = Blueprint("wechat_sandbox_open", __name__, url_prefix="/wechat-sandbox/open")

SCOPES = ("snsapi_base", "snsapi_userinfo")


def _problem(message: str, code: int):
    # WeChat shows its own error page (HTTP 200) for a bad authorize link; so do we, in Chinese.
    return render_template("sandbox/authorize_error.html", message=message, code=code)


def _allowed_host(redirect_uri: str) -> bool:
    """Like WeChat's 网页授权域名 check: only this app's own host (or PUBLIC_BASE_URL's)."""
    host = urlsplit(redirect_uri).netloc
    public = urlsplit(current_app.config.get("PUBLIC_BASE_URL") or "").netloc
    return bool(host) and host in {request.host, public}


def with_code(redirect_uri: str, code: str, state: str) -> str:
    """redirect_uri with code and state added to its query, as WeChat redirects."""
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [("code", code), ("state", state)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


@bp.route("/connect/oauth2/authorize", methods=["GET", "POST"])
def authorize():
    """Authorize the current fake user for this app: a code on the redirect_uri (consent first for userinfo)."""
    params = request.values
    problem = _link_problem(params)
    if problem:
        return _problem(*problem)
    if request.method == "POST":
        require_csrf()  # the consent form
    user = store.get_user(request.cookies.get(COOKIE, ""))
    if user is None or user["openid"] != request.cookies.get(COOKIE):
        return render_template("sandbox/authorize_choose.html", users=store.list_users(),
                               next=request.full_path)
    link = {key: params.get(key, "") for key in ("appid", "redirect_uri", "scope", "state")}
    if link["scope"] == "snsapi_userinfo" and not (request.method == "POST" and params.get("consent") == "allow"):
        return render_template("sandbox/authorize_consent.html", user=user, params={**link, "response_type": "code"})
    code = store.issue_oauth_code(user["openid"], link["appid"], link["scope"])
    return http_redirect(with_code(link["redirect_uri"], code, link["state"]), code=302)


def _link_problem(params) -> tuple[str, int] | None:
    """What is wrong with an authorize link, checked in WeChat's order (message, errcode)."""
    appid, redirect_uri = params.get("appid", ""), params.get("redirect_uri", "")
    if not appid:
        return "链接缺少 appid 参数", 10012
    if appid != setting("WECHAT_APP_ID"):
        return "appid 与沙箱公众号不一致", 10016
    if not redirect_uri:
        return "链接缺少 redirect_uri 参数", 10011
    if urlsplit(redirect_uri).scheme not in ("http", "https") or not _allowed_host(redirect_uri):
        return "redirect_uri 域名与后台配置不一致", 10003
    if params.get("response_type") != "code":
        return "response_type 参数错误", 10004
    if params.get("scope", "") not in SCOPES:
        return "scope 参数错误或没有 scope 权限", 10005
    if len(params.get("state", "")) > 128:
        return "state 参数过长（最多 128 字节）", 10013
    return None
