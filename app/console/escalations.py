"""Escalations for the area officer: unreachable landlords, unanswered reminders, move-outs left
unconfirmed, each with the landlord's reminder history (DESIGN §4 flow 7)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.console import bp
from app.console.auth import client_ip, current_officer
from app.extensions import db
from app.models import House, utcnow
from app.services.accounts import audit
from app.services.reminders import escalations as escalation_service
from app.services.reminders import rules

KIND_LABELS = {"unreachable_landlord": "房东无法联系", "reminder_unanswered": "提醒多次未处理",
               "move_out_unconfirmed": "退租未确认"}
RULE_LABELS = {name: rule.title.removesuffix("提醒")
               for name, rule in rules.DEFAULT_RULES.items()}
REMINDER_STATUS_LABELS = {"pending": "待发送", "deferred": "已顺延", "sending": "发送中",
                          "sent": "已送达", "failed": "发送失败", "unreachable": "无法送达",
                          "answered": "已办理"}


class CloseEscalationForm(FlaskForm):
    outcome = TextAreaField("处理结果", validators=[DataRequired("请填写处理结果"),
                                                Length(max=2000, message="不超过 2000 字")])
    submit = SubmitField("办结")


def _page() -> int:
    value = request.args.get("page", "1")
    return max(int(value), 1) if value.isdigit() and len(value) < 7 else 1


@bp.get("/escalations")
@login_required
def escalations():
    """Escalation tasks in the officer's area, open ones first by default."""
    status = request.args.get("status", "open")
    if status not in ("open", "closed", "all"):
        status = "open"
    page = _page()
    rows, has_next = escalation_service.escalations_for(current_officer(), status=status,
                                                         page=page)
    return render_template("console/escalations.html", rows=rows, has_next=has_next, page=page,
                           status=status, kind_labels=KIND_LABELS)


def _load(alert_id: int):
    alert = escalation_service.escalation_for(current_officer(), alert_id)
    if alert is None:
        abort(404)  # another area's ids cannot even be probed
    return alert


@bp.get("/escalations/<int:alert_id>")
@login_required
def escalation(alert_id: int):
    """One escalation with the house and every reminder its landlord was sent."""
    alert = _load(alert_id)
    return _render(alert, CloseEscalationForm())


def _render(alert, form, status: int = 200):
    house_id = escalation_service.house_of_alert(alert)
    house = db.session.get(House, house_id) if house_id else None
    history = escalation_service.reminder_history(house_id) if house_id else []
    return render_template("console/escalation.html", alert=alert, house=house, history=history,
                           form=form, kind_labels=KIND_LABELS, rule_labels=RULE_LABELS,
                           status_labels=REMINDER_STATUS_LABELS), status


@bp.post("/escalations/<int:alert_id>/close")
@login_required
def close_escalation(alert_id: int):
    """Close an escalation with what was done (visited, phoned, landlord declared...)."""
    officer = current_officer()
    alert = _load(alert_id)
    form = CloseEscalationForm()
    if alert.status != "open":
        flash("该任务已办结", "warning")
        return redirect(url_for("console.escalation", alert_id=alert.id))
    if not form.validate_on_submit():
        return _render(alert, form, 400)
    escalation_service.close_escalation(alert, officer, form.outcome.data, utcnow())
    audit.record(officer, "alert.close", "alert", alert.id, reason=form.outcome.data[:200],
                 ip=client_ip(), detail={"kind": alert.kind})
    db.session.commit()
    flash("已办结", "success")
    return redirect(url_for("console.escalations"))
