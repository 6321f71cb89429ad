"""Officer API (警务通) under /api/v1/officer: sign-in, control tasks, alerts. Scoped exactly
like the console (app/services/scoping.py); every write is idempotent (officer_auth)."""
from __future__ import annotations


from flask import abort, current_app, jsonify, request

from app.api import bp
from app.api.officer_auth import (
    api_officer, bearer_token, json_body, officer_required, officer_write,
)
from app.errors import error_body
from app.extensions import SIGNIN_LIMIT, SIGNIN_SCOPE, db, limiter
from app.models import Alert, ControlTask, utcnow
from app.redis_conn import get_redis
from app.schemas.officer import (
    AlertCloseInSchema, AlertOutSchema, KpiTableOutSchema, OfficerOutSchema, SignInSchema,
    TaskItemInSchema, TaskOutSchema,
)
from app.services.accounts import audit, officer_tokens, officers
from app.services.accounts.scoping import BRANCH_ROLES, scoped_get
from app.services.kpis import compute as kpis
from app.services.kpis import counts as kpi_counts
from app.services.kpis.periods import current_half_month, parse_period
from app.services.police import alerts as police_alerts
from app.services.police import tasks as police_tasks
from app.storage import evidence_dir


def _redis_or_none():
    try:
        redis = get_redis()
        redis.ping()
        return redis
    except Exception:  # noqa: BLE001 - Redis down: sign-in works, only without back-off
        current_app.logger.warning("sign-in back-off unavailable (Redis)")
        return None


@bp.post("/officer/sign-in")
@limiter.shared_limit(SIGNIN_LIMIT, scope=SIGNIN_SCOPE, methods=["POST"])
def officer_sign_in():
    """Sign in with username and password: a bearer token valid for 12 hours."""
    data = SignInSchema().load(json_body())
    redis = _redis_or_none()
    officer, error = officers.sign_in(redis, data["username"].strip(), data["password"], _ip(),
                                      via="api")
    if officer is None:
        db.session.commit()  # keep the lock note even though sign-in failed
        return jsonify(error_body(401, error)), 401
    if redis is None:
        abort(503)
    token = officer_tokens.issue_token(redis, officer)
    db.session.commit()
    return jsonify({"token": token, "token_type": "Bearer",
                    "expires_in": officer_tokens.TOKEN_TTL_SECONDS,
                    "officer": OfficerOutSchema().dump(officer)})


@bp.post("/officer/sign-out")
def officer_sign_out():
    """Sign out: this token is refused from now on (signing out twice changes nothing)."""
    officer = api_officer()
    officer_tokens.revoke_token(get_redis(), bearer_token())
    audit.record(officer, "officer.logout", "officer", officer.id,
                 ip=(request.remote_addr or "")[:45] or None, detail={"channel": "api"})
    db.session.commit()
    return jsonify({"signed_out": True})


@bp.get("/officer/me")
@officer_required
def officer_me(officer):
    """The signed-in officer: name, role and area."""
    return jsonify(OfficerOutSchema().dump(officer))



# -- control tasks and alerts (管控任务, 预警处置) --------------------------------------------------

def _status_arg(default: str, allowed) -> str:
    status = request.args.get("status", default)
    return status if status in allowed else default


def _page_arg() -> int:
    value = request.args.get("page", "1")
    return max(int(value), 1) if value.isdigit() and len(value) < 7 else 1


@bp.get("/officer/tasks")
@officer_required
def officer_tasks(officer):
    """Control tasks in my area, nearest deadline first (?status=open|done|moved_away|all)."""
    status = _status_arg("open", ("open", "done", "moved_away", "cancelled", "all"))
    rows, _ = police_tasks.tasks_for(officer, status=status, page=_page_arg())
    return jsonify(TaskOutSchema(many=True).dump(rows))


@bp.get("/officer/tasks/<int:task_id>")
@officer_required
def officer_task(officer, task_id: int):
    """One control task of my area with its checklist items."""
    return jsonify(TaskOutSchema().dump(scoped_get(ControlTask, task_id, officer)))


@bp.post("/officer/tasks/<int:task_id>/items/<key>")
@officer_write
def officer_complete_item(officer, task_id: int, key: str):
    """Complete one checklist item: GPS (or why not), a note, an optional photo."""
    task = scoped_get(ControlTask, task_id, officer, for_update=True)
    data = TaskItemInSchema().load(json_body())
    police_tasks.complete_item_audited(
        task, key, officer, via="api", ip=_ip(), lat=data.get("lat"), lng=data.get("lng"),
        no_gps_reason=data.get("no_gps_reason"), note=data.get("note"), photo=_photo(data),
        channel="field")
    return TaskOutSchema().dump(task), 200


def _photo(data: dict) -> str | None:
    if not data.get("photo_base64"):
        return None
    raw = police_tasks.decode_base64(data["photo_base64"], "photo_base64",
                                     "照片编码不正确（应为 base64）")
    return police_tasks.store_photo(evidence_dir(), raw)


@bp.get("/officer/alerts")
@officer_required
def officer_alerts(officer):
    """Alerts to handle in my area, nearest deadline first (?status=open|closed|all)."""
    status = _status_arg("open", ("open", "closed", "all"))
    rows, _ = police_alerts.alerts_for(officer, status=status, page=_page_arg())
    return jsonify(AlertOutSchema(many=True).dump(rows))


@bp.post("/officer/alerts/<int:alert_id>/close")
@officer_write
def officer_close_alert(officer, alert_id: int):
    """Close an alert with its outcome and what was done."""
    alert = scoped_get(Alert, alert_id, officer, for_update=True)
    data = AlertCloseInSchema().load(json_body())
    police_alerts.close_alert_audited(alert, officer, data["outcome"], data["note"], ip=_ip(),
                                      via="api")
    return AlertOutSchema().dump(alert), 200


@bp.get("/officer/kpis")
@officer_required
def officer_kpis(officer):
    """The campaign's KPI table for a period and an area level, scoped like the console."""
    text = request.args.get("period")
    period = parse_period(text) if text else current_half_month(utcnow())
    level = request.args.get("level") or (
        "station" if officer.role in BRANCH_ROLES else "police_area")
    plate_levels = kpi_counts.plate_levels_from(current_app.config.get("KPI_PLATE_LEVELS"))
    return jsonify(KpiTableOutSchema().dump(
        kpis.kpi_table(period, level, officer, plate_levels=plate_levels)))


def _ip() -> str | None:
    return (request.remote_addr or "")[:45] or None


