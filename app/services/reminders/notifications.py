"""What the system tells people by WeChat push: declaration outcomes and reminders.

Every push goes through `send_push`, which records the message before sending (dedupe key
unique), so a retried job never sends twice; quiet hours and the daily quota defer, never drop.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.crypto import mask_name
from app.extensions import db
from app.formatting import local_datetime
from app.models import Declaration, House, WeChatUser, utcnow
from app.models.declaration import KIND_LABELS
from app.outbox import jobs
from app.services import ports
from app.services.ports import PushResult
from app.services.reminders.clock import in_quiet_hours, next_send_time
from app.services.reminders.rules import settings

STATUS_MESSAGES = {
    "verified": "您的申报已核验通过。",
    "needs_review": "您的申报正在审核中，请留意后续通知。",
    "approved": "您的申报已审核通过。",
    "flagged": "您的申报需要民警上门核实，民警会与您联系。",
    "rejected": "您的申报被退回，请按原因更正后重新申报。",
}


def send_push(wechat_user_id: int | None, *, title: str, lines: list[tuple[str, str]],
              link: str | None, dedupe_key: str, not_before: datetime | None = None,
              now: datetime | None = None) -> PushResult:
    """Record then send one push to a WeChat user; at most once per dedupe key; a push with
    `not_before` after now is recorded and sent then (by the periodic push retry)."""
    return ports.pushes.send_push(wechat_user_id, title=title, lines=lines, link=link,
                                  dedupe_key=dedupe_key, not_before=not_before, now=now)


def notify_declaration_status(declaration_id: int, status: str,
                              now: datetime | None = None) -> PushResult | None:
    """Tell the submitter their declaration reached `status`, exactly once per change; in quiet
    hours the push is recorded and sent when they end (at once in the embedded demo, which runs
    no periodic jobs to send it later)."""
    declaration = db.session.get(Declaration, declaration_id)
    if declaration is None or declaration.submitter_wechat_user_id is None:
        return None
    message = STATUS_MESSAGES.get(status)
    if message is None:
        return None
    if (status == "verified" and declaration.kind == "self"
            and declaration.landlord_confirmation != "confirmed"):
        message = "您的申报已核验，正在等待房东确认。"
    lines = [("申报事项", KIND_LABELS.get(declaration.kind, declaration.kind)),
             ("回执码", declaration.receipt_code), ("办理结果", message),
             ("提交时间", local_datetime(declaration.created_at))]
    if status == "rejected":
        lines.append(("退回原因", declaration.decision_reason or "信息有误"))
        lines.append(("办理方式", "请点击查看详情，按退回原因更正后重新申报"))
    elif status == "flagged" and declaration.decision_reason:
        lines.append(("民警意见", declaration.decision_reason))
    now = now or utcnow()
    s = settings()
    quiet = in_quiet_hours(now, s) and jobs.runs_later()
    # The link opens the submitter's own declaration page (the public receipt is one tap on).
    return send_push(declaration.submitter_wechat_user_id, title="申报办理进度", lines=lines,
                     link=f"/h5/declarations/{declaration.id}",
                     dedupe_key=f"declaration:{declaration.id}:{status}",
                     not_before=next_send_time(now, s) if quiet else None, now=now)


def landlord_recipients(house: House) -> list[int]:
    """WeChat users who answer for a house: who registered it and those proven to be its owner
    or agent."""
    ids = {house.owner_wechat_user_id} if house.owner_wechat_user_id else set()
    persons = [p for p in (house.owner_person_id, house.agent_person_id) if p]
    if persons:
        ids.update(db.session.execute(select(WeChatUser.id).where(
            WeChatUser.person_id.in_(persons))).scalars())
    return sorted(ids)


def notify_landlord_of_self_declaration(declaration_id: int) -> list[PushResult]:
    """Tell the landlord a tenant declared themself at the house and ask for confirmation."""
    declaration = db.session.get(Declaration, declaration_id)
    if declaration is None or declaration.kind != "self" or declaration.house_id is None:
        return []
    house = db.session.get(House, declaration.house_id)
    tenant = (declaration.payload.get("tenants") or [{}])[0]
    lines = [("房屋地址", house.address.full_text), ("租客", mask_name(tenant.get("name", ""))),
             ("入住日期", tenant.get("start_date", "")), ("回执码", declaration.receipt_code),
             ("请办理", "请确认该租客是否在您的房屋居住")]
    return [send_push(user_id, title="租客自主申报待您确认", lines=lines,
                      link=f"/h5/houses/{house.id}/self/{declaration.id}",
                      dedupe_key=f"self_declaration:{declaration.id}:landlord:{user_id}")
            for user_id in landlord_recipients(house)]
