"""Sending reminders: claim one (exactly one caller wins), push it, record what happened."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from app.extensions import db
from app.formatting import local_date
from app.models import Address, Declaration, House, Reminder, Residence, WeChatUser
from app.models.declaration import KIND_LABELS
from app.services.reminders import notifications
from app.services.reminders.clock import in_quiet_hours, next_quota_day, next_send_time
from app.services.reminders.escalations import UNREACHABLE_REALERT, object_of, raise_escalation
from app.services.reminders.notifications import PushResult
from app.services.reminders.quota import quota_spent
from app.services.reminders.rules import DEFAULT_RULES, Rule, SENDABLE, Settings, settings


def claim(reminder_id: int, now: datetime, s: Settings | None = None) -> str:
    """Take a due reminder for sending: "claimed" for exactly one caller however many race.

    In quiet hours it is deferred to the end of them instead; "skipped" when it is not (or no
    longer) sendable. The caller commits right after, before the push goes out.
    """
    s = s or settings()
    sendable = and_(Reminder.id == reminder_id, Reminder.status.in_(SENDABLE),
                    or_(Reminder.due_at.is_(None), Reminder.due_at <= now))
    if in_quiet_hours(now, s):
        deferred = db.session.execute(update(Reminder).where(sendable).values(
            status="deferred", due_at=next_send_time(now, s), updated_at=now)).rowcount
        return "deferred" if deferred == 1 else "skipped"
    # One conditional UPDATE: the row lock makes a racing worker re-read "sending" and match 0.
    claimed = db.session.execute(update(Reminder).where(sendable).values(
        status="sending", updated_at=now)).rowcount
    return "claimed" if claimed == 1 else "skipped"


def _message(reminder: Reminder, s: Settings) -> tuple[str, list[tuple[str, str]]]:
    rule = s.rules.get(reminder.rule) or DEFAULT_RULES.get(reminder.rule)
    title = rule.title if rule else "安居提醒"

    def address_of(house_id):
        text = db.session.execute(select(Address.full_text).join(House, House.address_id ==
                                                                 Address.id)
                                  .where(House.id == house_id)).scalar()
        return text or "—"

    if reminder.rule == "house_undeclared":
        return title, [("房屋地址", address_of(reminder.target_id)),
                       ("提醒事项", f"您的出租房屋已超过{rule.after_days}天未登记租客"),
                       ("办理方式", "请点击登记租客；如房屋空置，请在页面中标记为空置")]
    if reminder.rule == "occupancy_unconfirmed":
        return title, [("房屋地址", address_of(reminder.target_id)),
                       ("提醒事项", f"已超过{rule.after_days}天未确认租客信息"),
                       ("办理方式", "请点击核对租客，一键确认仍在住或登记变化")]
    if reminder.rule == "declaration_correction":
        declaration = db.session.get(Declaration, reminder.target_id)
        lines = [("申报事项", KIND_LABELS.get(declaration.kind, declaration.kind)
                  if declaration else "申报"),
                 ("回执码", declaration.receipt_code if declaration else "—"),
                 ("提醒事项", "民警需要核实您的申报，请按要求补充或更正"
                  if declaration and declaration.status == "flagged"
                  else "您的申报已被退回，请按退回原因更正后重新提交")]
        return title, lines
    if reminder.rule == "move_out_confirm":
        residence = db.session.get(Residence, reminder.target_id)
        return title, [("房屋地址", address_of(residence.house_id) if residence else "—"),
                       ("提醒事项", "您登记的一位租客已在其他房屋登记入住"),
                       ("办理方式", "如该租客已搬离，请点击登记退租")]
    residence = db.session.get(Residence, reminder.target_id)
    where = address_of(residence.house_id) if residence else "—"
    if reminder.rule == "residence_permit":
        return title, [("居住地址", where),
                       ("提醒事项", f"您已登记居住满{rule.months}个月，可以申请办理居住证")]
    anniversary = local_date(reminder.period_key[1:])  # "y2026-12-01" → 2026年12月1日
    return title, [("居住地址", where),
                   ("提醒事项", f"您的居住证将于{anniversary}满一年，请在此前办理签注")]


def deliver(reminder_id: int, now: datetime, s: Settings | None = None) -> str:
    """Push a claimed reminder and record the result: sent, deferred, failed or unreachable.

    An unreachable landlord (43004, or no WeChat account at all) is escalated at once.
    """
    s = s or settings()
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None or reminder.status != "sending":
        return "skipped"
    rule = s.rules.get(reminder.rule) or DEFAULT_RULES[reminder.rule]
    user = (db.session.get(WeChatUser, reminder.recipient_wechat_user_id)
            if reminder.recipient_wechat_user_id else None)
    if user is None or (user.unreachable_at is not None and user.source != "miniapp"):
        # Nobody to push to: spending quota on a known-unreachable follower helps no one
        # (as in wechat/push.py; a mini-program user's refusal is per template).
        result = notifications.PushResult("no_recipient" if user is None else "unreachable",
                                          "无微信账号" if user is None else "用户已取消关注")
    elif quota_spent(now, s):
        result = notifications.PushResult("deferred", "quota")
    else:
        title, lines = _message(reminder, s)
        try:
            result = notifications.send_push(user.id, title=title, lines=lines,
                                             link=reminder.link,
                                             dedupe_key=f"reminder:{reminder.id}")
        except BaseException:
            # Nothing is known to have gone out: hand the reminder back for the next try
            # (a push that did go out is recognised by its dedupe key).
            reminder.status = "pending"
            db.session.flush()
            raise
    return _record(reminder, result, rule, user, now, s)


def record_delivery_result(dedupe_key: str, status: str, detail: str | None, now: datetime,
                           s: Settings | None = None) -> str | None:
    """Record a result that arrives later (TEMPLATESENDJOBFINISH: a block or a failure after
    WeChat accepted the send) for the reminder behind a push dedupe key "reminder:<id>"."""
    prefix, _, raw_id = (dedupe_key or "").partition(":")
    if prefix != "reminder" or not raw_id.isdigit():
        return None
    reminder = db.session.get(Reminder, int(raw_id))
    if reminder is None or reminder.status not in ("sent", "sending"):
        return None
    s = s or settings()
    rule = s.rules.get(reminder.rule) or DEFAULT_RULES[reminder.rule]
    user = (db.session.get(WeChatUser, reminder.recipient_wechat_user_id)
            if reminder.recipient_wechat_user_id else None)
    if status != "sent":
        reminder.sent_at = None
    return _record(reminder, PushResult(status, detail), rule, user, now, s)


def _record(reminder: Reminder, result, rule: Rule, user, now: datetime, s: Settings) -> str:
    status = result.status
    reminder.delivery_result = status if not result.detail else f"{status}: {result.detail}"[:32]
    if status in ("sent", "duplicate"):
        reminder.status, reminder.sent_at = "sent", reminder.sent_at or now
    elif status == "deferred":
        reminder.status = "deferred"
        # Quota spent: carried over to tomorrow morning; otherwise (quiet hours or a busy
        # channel on the push side) tried again a little later.
        reminder.due_at = (next_quota_day(now, s) if quota_spent(now, s)
                           else next_send_time(now + timedelta(minutes=30), s))
    elif status in ("unreachable", "no_recipient"):
        reminder.status = "unreachable"
        if user is not None and user.unreachable_at is None:
            user.unreachable_at = now
        if rule.landlord:
            object_type, object_id = object_of(reminder.target_type, reminder.target_id)
            why = "未绑定微信" if status == "no_recipient" else "已取消关注公众号，无法推送"
            raise_escalation("unreachable_landlord", object_type, object_id, reminder.station_id,
                         None, f"房东{why}：{rule.title}无法送达，请电话或上门联系", now,
                         since=now - UNREACHABLE_REALERT)
    else:
        reminder.status, reminder.error = "failed", (result.detail or status)[:2000]
    db.session.flush()
    return reminder.status
