"""Template messages (official account) and subscribe messages (mini-program), recorded first.

WeChat's send APIs have no idempotency key, so every push is a PushMessage row with a unique
dedupe key, committed before the request leaves; a row is claimed (pending → sending) by exactly
one caller, and once it is "sending" nobody sends it again. A retried job therefore never sends
twice; at worst a push whose answer was lost is reported as failed, never duplicated.

Unlike services, this module commits: the record must be durable before WeChat sees the request.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import requests
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from wechatpy.exceptions import WeChatClientException

from app.extensions import db
from app.models import PushMessage, WeChatUser, utcnow
from app.redis_conn import get_redis
from app.services.notifications import PushResult

# 43004: the user does not follow the account; 43101: the user refused subscribe messages.
UNREACHABLE_ERRCODES = (43004, 43101)
# 45009: WeChat's own daily quota is spent; 45047: too many messages to this user.
QUOTA_ERRCODES = (45009, 45047)
QUOTA_KEY = "anju:wechat:quota:{channel}:{day}"
BEIJING = timezone(timedelta(hours=8))  # WeChat's day (and its quotas) turn over in Beijing time


def _quota_key(channel: str, now: datetime) -> str:
    day = now.replace(tzinfo=timezone.utc).astimezone(BEIJING).strftime("%Y%m%d")
    return QUOTA_KEY.format(channel=channel, day=day)


def take_quota(channel: str, now: datetime | None = None) -> bool:
    """Reserve one send from today's quota (template messages only); False when it is spent."""
    if channel != "template":
        return True
    key = _quota_key(channel, now or utcnow())
    redis = get_redis()
    used = redis.incr(key)
    if used == 1:
        redis.expire(key, 2 * 24 * 3600)
    if used > int(current_app.config.get("WECHAT_TEMPLATE_DAILY_QUOTA") or 100_000):
        redis.decr(key)
        return False
    return True


def give_back_quota(channel: str, now: datetime | None = None) -> None:
    """Return a reservation that sent nothing."""
    if channel == "template":
        get_redis().decr(_quota_key(channel, now or utcnow()))


def _public_link(link: str | None) -> str | None:
    if link and link.startswith("/"):
        return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + link
    return link


def notice_payload(channel: str, title: str, lines: list[tuple[str, str]],
                   link: str | None) -> tuple[str, dict]:
    """(template_id, payload) of a generic notice in the configured template of each channel."""
    config = current_app.config
    if channel == "subscribe":
        # Subscribe-message "thing" values are limited to 20 characters.
        data = {"thing1": {"value": title[:20]}}
        for i, (label, value) in enumerate(lines[:4], start=2):
            data[f"thing{i}"] = {"value": f"{label}：{value}"[:20]}
        return config["WECHAT_MINIAPP_NOTICE_TEMPLATE_ID"], {"data": data, "page": "pages/index/index"}
    data = {"first": {"value": title}}
    for i, (label, value) in enumerate(lines, start=1):
        data[f"keyword{i}"] = {"value": f"{label}：{value}"}
    data["remark"] = {"value": "点击查看详情。" if link else "如有疑问请联系社区民警。"}
    return config["WECHAT_NOTICE_TEMPLATE_ID"], {"data": data, "url": _public_link(link)}


def send_push(wechat_user_id: int | None, *, title: str, lines: list[tuple[str, str]],
              link: str | None, dedupe_key: str) -> PushResult:
    """Record then send a notice to a WeChat user by the channel they came from, at most once."""
    user = db.session.get(WeChatUser, wechat_user_id) if wechat_user_id else None
    if user is None:
        return PushResult("no_recipient", "无微信账号")
    channel = "subscribe" if user.source == "miniapp" else "template"
    template_id, payload = notice_payload(channel, title, lines, link)
    return send(channel, user, template_id, payload, dedupe_key)


def send_template(user: WeChatUser, template_id: str, data: dict, *, url: str | None = None,
                  dedupe_key: str) -> PushResult:
    """An official-account template message, at most once per dedupe key."""
    return send("template", user, template_id, {"data": data, "url": _public_link(url)}, dedupe_key)


def send_subscribe(user: WeChatUser, template_id: str, data: dict, *, page: str | None = None,
                   dedupe_key: str) -> PushResult:
    """A mini-program subscribe message, at most once per dedupe key."""
    return send("subscribe", user, template_id, {"data": data, "page": page}, dedupe_key)


def _record(channel: str, user: WeChatUser, template_id: str, payload: dict,
            dedupe_key: str) -> PushMessage:
    existing = db.session.execute(
        select(PushMessage).where(PushMessage.dedupe_key == dedupe_key)).scalar()
    if existing is not None:
        return existing
    record = PushMessage(channel=channel, wechat_user_id=user.id, openid=user.openid,
                         template_id=template_id, payload=payload, dedupe_key=dedupe_key,
                         status="pending", attempts=0)
    try:
        with db.session.begin_nested():
            db.session.add(record)
    except IntegrityError:
        # Another worker recorded the same key first: theirs is the one that counts.
        return db.session.execute(
            select(PushMessage).where(PushMessage.dedupe_key == dedupe_key)).scalar_one()
    db.session.commit()
    return record


def _finish(record: PushMessage, status: str, errcode: int | None = None,
            errmsg: str | None = None) -> None:
    record.status, record.errcode = status, errcode
    record.errmsg = (errmsg or None) and str(errmsg)[:255]
    db.session.commit()


def send(channel: str, user: WeChatUser, template_id: str, payload: dict,
         dedupe_key: str) -> PushResult:
    """Record (committed), claim, send and record the outcome of one push; counted in /metrics."""
    from app.metrics import count_push

    try:
        result = _send(channel, user, template_id, payload, dedupe_key)
    except BaseException:
        count_push(channel, "error")  # e.g. a connect timeout handed back for RQ to retry
        raise
    count_push(channel, result.status)
    return result


def _send(channel: str, user: WeChatUser, template_id: str, payload: dict,
          dedupe_key: str) -> PushResult:
    record = _record(channel, user, template_id, payload, dedupe_key)
    if record.status == "sent":
        return PushResult("duplicate", f"msgid {record.msgid}")
    if record.status in ("sending", "failed", "unreachable"):
        # Already attempted: whatever happened then, sending again could deliver it twice.
        return PushResult("duplicate" if record.status == "sending" else record.status,
                          record.errmsg)
    if channel == "template" and user.unreachable_at is not None:
        # Known not to follow the account: a send would only spend quota on a 43004.
        _finish(record, "unreachable", None, "用户已取消关注")
        return PushResult("unreachable", "用户已取消关注")
    now = utcnow()
    if not take_quota(channel, now):
        return PushResult("deferred", "今日推送额度已用完")
    claimed = db.session.execute(
        update(PushMessage).where(PushMessage.id == record.id, PushMessage.status == "pending")
        .values(status="sending", attempts=PushMessage.attempts + 1)).rowcount
    db.session.commit()
    if claimed != 1:
        give_back_quota(channel, now)
        return PushResult("duplicate", "另一进程正在发送")
    db.session.refresh(record)
    return _send_claimed(record, user, now)


def _send_claimed(record: PushMessage, user: WeChatUser, now: datetime) -> PushResult:
    from wechat.client import get_client, get_miniapp_client

    payload = record.payload or {}
    try:
        if record.channel == "subscribe":
            answer = get_miniapp_client().wxa.send_subscribe_message(
                record.openid, record.template_id, payload.get("data") or {},
                page=payload.get("page"))
        else:
            answer = get_client().message.send_template(
                record.openid, record.template_id, payload.get("data") or {},
                url=payload.get("url"))
    except requests.ConnectTimeout:
        # The request never reached WeChat: hand the record back so a retry may send it.
        record.status = "pending"
        db.session.commit()
        give_back_quota(record.channel, now)
        raise
    except (requests.RequestException, RuntimeError) as exc:
        # The request may have arrived: never resend; report it as failed.
        _finish(record, "failed", None, f"{type(exc).__name__}: 未确认是否送达")
        return PushResult("failed", "网络异常，未确认是否送达")
    except WeChatClientException as exc:
        errcode = exc.errcode
        if errcode in UNREACHABLE_ERRCODES:
            user.unreachable_at = user.unreachable_at or now
            _finish(record, "unreachable", errcode, exc.errmsg)
            return PushResult("unreachable", f"{errcode}")
        if errcode in QUOTA_ERRCODES:
            record.status = "pending"  # WeChat refused before sending: safe to try tomorrow
            record.errcode, record.errmsg = errcode, str(exc.errmsg)[:255]
            db.session.commit()
            give_back_quota(record.channel, now)
            return PushResult("deferred", f"{errcode}")
        _finish(record, "failed", errcode, exc.errmsg)
        return PushResult("failed", f"{errcode}")
    msgid = answer.get("msgid") if isinstance(answer, dict) else None
    record.msgid = int(msgid) if isinstance(msgid, (int, str)) and str(msgid).isdigit() else None
    record.sent_at = utcnow()
    _finish(record, "sent")
    return PushResult("sent", f"msgid {record.msgid}" if record.msgid else None)


def record_delivery(msgid: int, status: str, now: datetime | None = None) -> PushMessage | None:
    """Store a TEMPLATESENDJOBFINISH result on its push; a refused delivery marks the user."""
    if not msgid:
        return None
    record = db.session.execute(select(PushMessage).where(PushMessage.msgid == msgid)).scalar()
    if record is None:
        return None
    now = now or utcnow()
    record.delivery_status, record.delivered_at = (status or "")[:64], now
    if status and "user block" in status and record.wechat_user_id:
        user = db.session.get(WeChatUser, record.wechat_user_id)
        if user is not None:
            user.unreachable_at = user.unreachable_at or now
    db.session.flush()
    return record
