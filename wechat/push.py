"""Template messages (official account) and subscribe messages (mini-program), recorded first.

WeChat's send APIs have no idempotency key, so every push is a PushMessage row with a unique
dedupe key, committed before the request leaves; a row is claimed (pending → sending) by exactly
one caller, and once it is "sending" nobody sends it again. A retried job therefore never sends
twice; at worst a push whose answer was lost is reported as failed, never duplicated.

A claim always ends: sent, failed (the request may have arrived), unreachable, or back to
pending (it certainly did not leave: no connection, Redis failed before the request, WeChat's
quota). A claim left by a worker that died is ended by `reclaim_stale_sending` (failed: it may
have gone out). Pending pushes (quiet hours until `not_before`, today's quota spent, a worker
that died before its claim) are sent by `send_due_pushes`, run by `wechat.jobs.retry_pushes`.

Unlike services, this module commits: the record must be durable before WeChat sees the request.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import redis
import requests
from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from wechatpy.exceptions import WeChatClientException

from app.extensions import db
from app.metrics import count_push
from app.models import PushMessage, WeChatUser, utcnow
from app.redis_conn import get_redis
from app.services.ports import PushResult
from app.services.reminders.clock import in_quiet_hours
from app.services.reminders.quota import quota_key
from app.services.reminders.rules import settings
from wechat.client import get_client, get_miniapp_client

# 43004: the user does not follow the account; 43101: the user refused subscribe messages.
UNREACHABLE_ERRCODES = (43004, 43101)
# 45009: WeChat's own daily quota is spent; 45047: too many messages to this user.
QUOTA_ERRCODES = (45009, 45047)
QUOTA_SPENT = "今日推送额度已用完"
# Longer than any send can take (connect + read timeouts, a token refresh): a push "sending" for
# longer was claimed by a worker that died.
SEND_TIMEOUT = timedelta(minutes=5)
# A pending push younger than this is probably being sent by the job that recorded it.
RETRY_AFTER = timedelta(seconds=30)


def _quota_key(channel: str, now: datetime) -> str:
    return quota_key(now, channel)  # the key reminders read (app/services/reminders)


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
              link: str | None, dedupe_key: str, not_before: datetime | None = None,
              now: datetime | None = None) -> PushResult:
    """Record then send a notice to a WeChat user by the channel they came from, at most once;
    with `not_before` later than now it is recorded pending and sent then by `send_due_pushes`."""
    user = db.session.get(WeChatUser, wechat_user_id) if wechat_user_id else None
    if user is None:
        return PushResult("no_recipient", "无微信账号")
    channel = "subscribe" if user.source == "miniapp" else "template"
    template_id, payload = notice_payload(channel, title, lines, link)
    return send(channel, user, template_id, payload, dedupe_key, not_before=not_before, now=now)


def send_template(user: WeChatUser, template_id: str, data: dict, *, url: str | None = None,
                  dedupe_key: str) -> PushResult:
    """An official-account template message, at most once per dedupe key."""
    return send("template", user, template_id, {"data": data, "url": _public_link(url)}, dedupe_key)


def send_subscribe(user: WeChatUser, template_id: str, data: dict, *, page: str | None = None,
                   dedupe_key: str) -> PushResult:
    """A mini-program subscribe message, at most once per dedupe key."""
    return send("subscribe", user, template_id, {"data": data, "page": page}, dedupe_key)


def _record(channel: str, user: WeChatUser, template_id: str, payload: dict,
            dedupe_key: str, not_before: datetime | None = None) -> PushMessage:
    existing = db.session.execute(
        select(PushMessage).where(PushMessage.dedupe_key == dedupe_key)).scalar()
    if existing is not None:
        return existing
    record = PushMessage(channel=channel, wechat_user_id=user.id, openid=user.openid,
                         template_id=template_id, payload=payload, dedupe_key=dedupe_key,
                         status="pending", attempts=0, not_before=not_before)
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
         dedupe_key: str, *, not_before: datetime | None = None,
         now: datetime | None = None) -> PushResult:
    """Record (committed), claim, send and record the outcome of one push; counted in /metrics."""
    try:
        result = _send(channel, user, template_id, payload, dedupe_key, not_before, now)
    except BaseException:
        count_push(channel, "error")  # e.g. a connect timeout handed back for RQ to retry
        raise
    count_push(channel, result.status)
    return result


def _send(channel: str, user: WeChatUser, template_id: str, payload: dict, dedupe_key: str,
          not_before: datetime | None, now: datetime | None) -> PushResult:
    now = now or utcnow()
    record = _record(channel, user, template_id, payload, dedupe_key, not_before)
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
    if record.not_before is not None and record.not_before > now:
        return PushResult("deferred", "免打扰时段，稍后发送")
    _prepare_client(channel)  # the token (Redis, maybe WeChat) before the claim, not after
    if not take_quota(channel, now):  # stays pending: `send_due_pushes` tries it tomorrow
        return PushResult("deferred", QUOTA_SPENT)
    claimed = db.session.execute(
        update(PushMessage).where(PushMessage.id == record.id, PushMessage.status == "pending")
        .values(status="sending", attempts=PushMessage.attempts + 1, claimed_at=now)).rowcount
    db.session.commit()
    if claimed != 1:
        give_back_quota(channel, now)
        return PushResult("duplicate", "另一进程正在发送")
    db.session.refresh(record)
    try:
        return _send_claimed(record, user, now)
    except Exception as exc:
        # Never leave the claim behind: whatever failed, the record ends pending or failed
        # (a process that dies here leaves it to `reclaim_stale_sending`).
        _end_claim_after_error(record, exc, now)
        raise


def _prepare_client(channel: str) -> None:
    client = get_miniapp_client() if channel == "subscribe" else get_client()
    client.access_token  # noqa: B018 - fetched (or read from Redis) now, before any claim


def _end_claim_after_error(record: PushMessage, exc: Exception, now: datetime) -> None:
    """An error after the claim that `_send_claimed` did not record: no connection, or a Redis
    error (the token cache, before the request) hands it back; anything else may have reached
    WeChat, so it is failed, never resent."""
    not_sent = isinstance(exc, (redis.RedisError, requests.ConnectTimeout))
    if not_sent:
        values = {"status": "pending", "errmsg": f"{type(exc).__name__}: 未发出，稍后重试"[:255]}
    else:
        values = {"status": "failed", "errmsg": f"{type(exc).__name__}: 未确认是否送达"[:255]}
    try:
        db.session.rollback()
        db.session.execute(update(PushMessage).where(PushMessage.id == record.id,
                                                     PushMessage.status == "sending")
                           .values(**values))
        db.session.commit()
    except Exception:  # noqa: BLE001 - the database is down too: reclaim_stale_sending ends it
        db.session.rollback()
        current_app.logger.exception("could not end the claim of push %s", record.id)
        return
    if not_sent:
        try:
            give_back_quota(record.channel, now)
        except Exception:  # noqa: BLE001 - Redis is down: one unit of quota stays reserved
            pass


def _send_claimed(record: PushMessage, user: WeChatUser, now: datetime) -> PushResult:
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
    except (requests.ConnectTimeout, redis.RedisError):
        # The request never reached WeChat (no connection; the token cache failed before the
        # request was built): hand the record back so a retry may send it.
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


def reclaim_stale_sending(now: datetime | None = None) -> int:
    """End claims older than SEND_TIMEOUT (their worker died): failed, since the request may
    have reached WeChat; returns how many."""
    now = now or utcnow()
    count = db.session.execute(
        update(PushMessage).where(PushMessage.status == "sending",
                                  or_(PushMessage.claimed_at.is_(None),
                                      PushMessage.claimed_at < now - SEND_TIMEOUT))
        .values(status="failed", errmsg="发送中断，未确认是否送达")).rowcount or 0
    db.session.commit()
    return count


def send_due_pushes(now: datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """Send pending pushes that are due (not_before passed, recorded RETRY_AFTER ago), oldest
    first, until today's quota is spent; never in quiet hours. Returns counts per result."""
    now = now or utcnow()
    counts: dict[str, int] = {}
    if in_quiet_hours(now, settings()):
        return counts
    ids = list(db.session.execute(
        select(PushMessage.id).where(
            PushMessage.status == "pending", PushMessage.created_at <= now - RETRY_AFTER,
            or_(PushMessage.not_before.is_(None), PushMessage.not_before <= now))
        .order_by(PushMessage.id).limit(limit)).scalars())
    db.session.rollback()
    for push_id in ids:
        record = db.session.get(PushMessage, push_id)
        if record is None or record.status != "pending":
            continue
        user = db.session.get(WeChatUser, record.wechat_user_id) if record.wechat_user_id else None
        if user is None:
            _finish(record, "unreachable", None, "无微信账号")
            result = PushResult("unreachable")
        else:
            result = send(record.channel, user, record.template_id, record.payload or {},
                          record.dedupe_key, now=now)
        counts[result.status] = counts.get(result.status, 0) + 1
        if result.detail == QUOTA_SPENT:
            break  # the rest wait for tomorrow
    return counts


class WeChatPushes:
    """The push port of app/services/ports.py, as WeChat sends: wired by create_app()."""

    send_push = staticmethod(send_push)
