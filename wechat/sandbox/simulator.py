"""The simulator pages: act as a fake WeChat user towards the real callback, H5 pages and pushes."""
from __future__ import annotations

import random
import re

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_wtf.csrf import validate_csrf
from sqlalchemy import or_, select

from app.extensions import db
from app.models import Address
from app.urls import same_site_path
from wechat.sandbox import inbound, realname, store
from wechat.sandbox.account import setting

bp = Blueprint("wechat_sandbox", __name__, url_prefix="/wechat-sandbox")

COOKIE = "sandbox_openid"
COOKIE_MAX_AGE = 30 * 24 * 3600
ADDRESS_LIMIT = 50
NICKNAME_MAX = 32
TEXT_MAX = 600
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NICKNAMES = ("王先生", "李女士", "张师傅", "陈阿姨", "刘老板", "林同学", "黄先生", "吴女士")


def safe_next(target: str | None) -> str | None:
    """Only same-site paths may be redirected to (app/urls.py)."""
    return same_site_path(target)


@bp.before_request
def check_csrf():
    """Every simulator form carries the session's CSRF token; a post without it changes nothing."""
    if request.method == "POST":
        require_csrf()


def require_csrf() -> None:
    """Refuse a POST without a valid CSRF token (400, in Chinese), unless CSRF is switched off."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return

    try:
        validate_csrf(request.form.get("csrf_token"))
    except Exception:  # noqa: BLE001 - missing, expired or forged: all the same refusal
        abort(400, description="页面已过期，请返回沙箱首页刷新后重试")


def remember_user(response, openid: str):
    """Make this fake user the one the browser acts as (the authorize page reads the cookie)."""
    response.set_cookie(COOKIE, openid, max_age=COOKIE_MAX_AGE, httponly=True, samesite="Lax")
    return response


def _user_or_404(openid: str) -> dict:
    user = store.get_user(openid)
    if user is None or user["openid"] != openid:
        abort(404)
    return user


def _back(openid: str):
    return redirect(url_for("wechat_sandbox.user_page", openid=openid) + "#chat")


@bp.get("/")
def home():
    """Choose or create the fake WeChat user to act as."""
    return render_template("sandbox/index.html", users=store.list_users(),
                           current=request.cookies.get(COOKIE))


@bp.post("/users")
def create_user():
    """Create a fake WeChat user and act as them."""
    nickname = (request.form.get("nickname") or "").strip()
    if len(nickname) > NICKNAME_MAX:
        flash(f"昵称最多 {NICKNAME_MAX} 个字", "error")
        return redirect(safe_next(request.form.get("next")) or url_for("wechat_sandbox.home"))
    if not nickname:
        nickname = f"{random.choice(_NICKNAMES)}{random.randint(100, 999)}"
    user = store.create_user(nickname)
    flash(f"已新建微信用户「{nickname}」", "ok")
    target = safe_next(request.form.get("next")) or url_for("wechat_sandbox.user_page", openid=user["openid"])
    return remember_user(redirect(target), user["openid"])


@bp.post("/users/<openid>/select")
def select_user(openid: str):
    """Act as an existing fake user (then go back where the browser came from)."""
    _user_or_404(openid)
    target = safe_next(request.form.get("next")) or url_for("wechat_sandbox.user_page", openid=openid)
    return remember_user(redirect(target), openid)


def _addresses(query: str) -> list[Address]:
    stmt = select(Address).where(Address.status == "active")
    if query:
        stmt = stmt.where(or_(Address.full_text.contains(query, autoescape=True), Address.code == query))
    return list(db.session.execute(stmt.order_by(Address.id).limit(ADDRESS_LIMIT)).scalars())


@bp.get("/users/<openid>")
def user_page(openid: str):
    """One fake user's phone: follow, scan a door plate, chat, pushes received, H5 links."""
    user = _user_or_404(openid)
    query = (request.args.get("q") or "").strip()[:64]
    response = current_app.make_response(render_template(
        "sandbox/user.html", user=user, chat=store.chat(openid), pushes=store.sent_messages(openid),
        addresses=_addresses(query), query=query, address_limit=ADDRESS_LIMIT, menu=store.menu(),
        mode=setting("WECHAT_MESSAGE_MODE")))
    # Viewing a user's phone means acting as them: "以该用户身份打开" links then carry this identity.
    return remember_user(response, openid)


@bp.post("/users/<openid>/subscribe")
def subscribe(openid: str):
    """Follow the official account (subscribe event through the real callback)."""
    user = _user_or_404(openid)
    if user["subscribed"]:
        flash("已经关注了公众号", "error")
        return _back(openid)
    store.set_subscribed(openid, True)
    inbound.send_and_log(openid, inbound.event_message(openid, "subscribe"), "关注公众号")
    return _back(openid)


@bp.post("/users/<openid>/unsubscribe")
def unsubscribe(openid: str):
    """Stop following the account (unsubscribe event; WeChat does not show a reply)."""
    user = _user_or_404(openid)
    if not user["subscribed"]:
        flash("尚未关注公众号", "error")
        return _back(openid)
    store.set_subscribed(openid, False)
    inbound.send_and_log(openid, inbound.event_message(openid, "unsubscribe"), "取消关注")
    return _back(openid)


@bp.post("/users/<openid>/scan")
def scan(openid: str):
    """Scan a door plate: SCAN when following, otherwise subscribe with the qrscene_ key."""
    user = _user_or_404(openid)
    qr_token = (request.form.get("qr_token") or "").strip()
    if not TOKEN_RE.match(qr_token):
        flash("门牌码格式不正确（只能是字母、数字、-、_，最多 64 位）", "error")
        return _back(openid)
    ticket = inbound.scan_ticket(qr_token)
    if user["subscribed"]:
        xml = inbound.event_message(openid, "SCAN", qr_token, ticket=ticket)
        shown = f"扫门牌码 {qr_token}"
    else:
        store.set_subscribed(openid, True, qr_scene=qr_token)
        xml = inbound.event_message(openid, "subscribe", f"qrscene_{qr_token}", ticket=ticket)
        shown = f"扫门牌码 {qr_token}（未关注，扫码并关注）"
    inbound.send_and_log(openid, xml, shown)
    return _back(openid)


@bp.post("/users/<openid>/text")
def send_text(openid: str):
    """Send a text message to the account."""
    _user_or_404(openid)
    content = (request.form.get("content") or "").strip()
    if not content or len(content) > TEXT_MAX:
        flash(f"请输入 1 到 {TEXT_MAX} 个字的消息", "error")
        return _back(openid)
    inbound.send_and_log(openid, inbound.text_message(openid, content), content)
    return _back(openid)


def _menu_links() -> set[str]:
    # Only a link of the published menu is opened: the form's value is not to be trusted.
    links = set()
    for button in (store.menu() or {}).get("button") or []:
        for b in [button, *(button.get("sub_button") or [])]:
            if isinstance(b, dict) and b.get("type") == "view" and isinstance(b.get("url"), str):
                links.add(b["url"])
    return links


@bp.post("/users/<openid>/menu")
def tap_menu(openid: str):
    """Tap a menu button: CLICK sends its key; VIEW sends the event and opens the link as this user."""
    _user_or_404(openid)
    kind, value = request.form.get("type"), (request.form.get("value") or "").strip()
    if kind == "click" and value:
        inbound.send_and_log(openid, inbound.event_message(openid, "CLICK", value), f"点击菜单 {value}")
        return _back(openid)
    if kind == "view" and value.startswith(("http://", "https://")) and value in _menu_links():
        inbound.send_and_log(openid, inbound.event_message(openid, "VIEW", value, menu_id=1), f"打开菜单链接 {value}")
        return redirect(value)
    flash("菜单按钮无效", "error")
    return _back(openid)


@bp.post("/users/<openid>/resend")
def resend(openid: str):
    """Send an earlier message again unchanged, the way WeChat retries a slow answer."""
    _user_or_404(openid)
    try:
        entry = store.chat(openid)[int(request.form.get("index", ""))]
    except (ValueError, IndexError):
        entry = None
    if not entry or entry.get("direction") != "in" or not entry.get("xml"):
        flash("找不到要重发的消息", "error")
        return _back(openid)
    inbound.send_and_log(openid, entry["xml"], f"（微信重试）{entry['text']}")
    return _back(openid)


@bp.post("/users/<openid>/js-code")
def js_code(openid: str):
    """Issue a mini-program login code, as wx.login() would, to try POST /api/v1/auth/wxlogin."""
    _user_or_404(openid)
    flash(f"小程序登录 code（5 分钟内有效，只能用一次）：{store.issue_js_code(openid)}", "ok")
    return _back(openid)


@bp.route("/realname/<ticket>", methods=["GET", "POST"])
def real_name(ticket: str):
    """模拟微信实名核验: the tester decides whether the claimed name and ID are this user's."""
    session = realname.load(ticket)
    if session is None:
        abort(404, description="实名核验会话不存在或已过期，请返回重新发起")
    if request.method == "POST":
        _check_csrf()
        return _decide_real_name(ticket)
    return render_template("sandbox/realname.html", session=session, ticket=ticket,
                           user=store.get_user(session["openid"]))


def _decide_real_name(ticket: str):
    """The tester's decision, then back to the page that asked for the check."""
    decision = request.form.get("decision")
    if decision not in ("pass", "fail"):
        flash("请选择核验结果", "error")
        return redirect(url_for("wechat_sandbox.real_name", ticket=ticket))
    session = realname.decide(ticket, decision == "pass")
    target = safe_next(session.get("return_url")) or "/h5/me"
    joiner = "&" if "?" in target else "?"
    return redirect(f"{target}{joiner}ticket={ticket}")


def _check_csrf() -> None:
    """The sandbox's own forms carry the session's CSRF token, like every H5 form."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return

    try:
        validate_csrf(request.form.get("csrf_token"))
    except Exception:  # noqa: BLE001 - any failure is a refusal
        abort(400, description="页面已过期，请返回刷新后重新提交")


@bp.post("/reset")
def reset():
    """Forget every fake user, conversation and recorded call."""
    store.reset()
    flash("沙箱数据已清空", "ok")
    response = redirect(url_for("wechat_sandbox.home"))
    response.delete_cookie(COOKIE)
    return response
