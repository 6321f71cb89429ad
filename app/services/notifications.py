"""What the system tells people by WeChat push: declaration outcomes and reminders.

Every push goes through `send_push`, which records the message before sending (dedupe key
unique), so a retried job never sends twice; quiet hours and the daily quota defer, never drop.
"""
from __future__ import annotations

from dataclasses import dataclass

from app.extensions import db
from app.formatting import local_datetime
from app.models import Declaration
from app.models.declaration import KIND_LABELS

STATUS_MESSAGES = {
    "verified": "您的申报已核验通过。",
    "needs_review": "您的申报正在审核中，请留意后续通知。",
    "approved": "您的申报已审核通过。",
    "flagged": "您的申报需要民警上门核实，民警会与您联系。",
    "rejected": "您的申报被退回，请按原因更正后重新申报。",
}


@dataclass(frozen=True)
class PushResult:
    status: str  # sent / deferred / unreachable / failed / duplicate / no_recipient
    detail: str | None = None


def send_push(wechat_user_id: int | None, *, title: str, lines: list[tuple[str, str]],
              link: str | None, dedupe_key: str) -> PushResult:
    """Record then send one push to a WeChat user; at most once per dedupe key."""
    from wechat.push import send_push as push  # wechat/ owns the protocol and the record

    return push(wechat_user_id, title=title, lines=lines, link=link, dedupe_key=dedupe_key)


def notify_declaration_status(declaration_id: int, status: str) -> PushResult | None:
    """Tell the submitter their declaration reached `status`, exactly once per change."""
    declaration = db.session.get(Declaration, declaration_id)
    if declaration is None or declaration.submitter_wechat_user_id is None:
        return None
    message = STATUS_MESSAGES.get(status)
    if message is None:
        return None
    lines = [("申报事项", KIND_LABELS.get(declaration.kind, declaration.kind)),
             ("回执码", declaration.receipt_code),
             ("提交时间", local_datetime(declaration.created_at)), ("办理结果", message)]
    if status == "rejected":
        lines.append(("退回原因", declaration.decision_reason or "信息有误"))
        lines.append(("办理方式", "请点击查看详情，按退回原因更正后重新申报"))
    elif status == "flagged" and declaration.decision_reason:
        lines.append(("民警意见", declaration.decision_reason))
    # The link opens the submitter's own declaration page (the public receipt is one tap on).
    return send_push(declaration.submitter_wechat_user_id, title="申报办理进度", lines=lines,
                     link=f"/h5/declarations/{declaration.id}",
                     dedupe_key=f"declaration:{declaration.id}:{status}")
