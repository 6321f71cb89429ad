"""Administration: officer accounts (system admin) and the audit log viewer (administrators)."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.console import bp
from app.console.auth import client_ip, current_officer, roles_required
from app.console.forms import (
    OfficerActiveForm, choices, OfficerEditForm, OfficerForm, OfficerPasswordResetForm,
)
from app.extensions import db
from app.models import AuditLog, Officer, PoliceArea, Station, utcnow
from app.services.accounts import audit, scoping
from app.services.accounts.officers import create_officer, hash_password
from app.wording import AUDIT_ACTION_LABELS, AUDIT_OBJECT_LABELS

AUDIT_PER_PAGE = 100
BEIJING_OFFSET = timedelta(hours=8)


def _area_choices(officer: Officer, form) -> None:
    stations = db.session.execute(scoping.scope_stations(
        select(Station).order_by(Station.name), officer)).scalars().all()
    areas = db.session.execute(scoping.scope_police_areas(
        select(PoliceArea).order_by(PoliceArea.name), officer)).scalars().all()
    form.station_id.choices = choices([("", "（无）")] + [(s.id, s.name) for s in stations])
    form.police_area_id.choices = choices([("", "（无）")] + [(a.id, f"{a.station.name} {a.name}")
                                                            for a in areas])


def _placement(officer: Officer, form) -> tuple[int | None, int | None, str | None]:
    """(station_id, police_area_id, error) for the role chosen, checked against the branch."""
    role = form.role.data
    station_id = int(form.station_id.data) if (form.station_id.data or "").isdigit() else None
    area_id = int(form.police_area_id.data) if (form.police_area_id.data or "").isdigit() else None
    if area_id is not None:
        area = db.session.get(PoliceArea, area_id)
        if area is None or not scoping.scoped_ids(PoliceArea, [area_id], officer):
            return None, None, "警务区无效"
        station_id = area.station_id  # an area always belongs to exactly one station
    if station_id is not None and not scoping.scoped_ids(Station, [station_id], officer):
        return None, None, "派出所无效"
    if role == "officer" and area_id is None:
        return None, None, "民警必须指定警务区"
    if role == "station_admin" and station_id is None:
        return None, None, "派出所管理员必须指定派出所"
    if role in scoping.BRANCH_ROLES:
        station_id = area_id = None
    elif role == "station_admin":
        area_id = None
    return station_id, area_id, None


@bp.route("/officers", methods=["GET", "POST"])
@roles_required("system_admin")
def officers():
    """Officer accounts of the branch, and the form to create one."""
    admin = current_officer()
    form = OfficerForm()
    _area_choices(admin, form)
    if form.validate_on_submit():
        station_id, area_id, error = _placement(admin, form)
        if error:
            form.role.errors = [error]
        else:
            try:
                created = create_officer(
                    username=form.username.data.strip(), password=form.password.data,
                    name=form.name.data.strip(), badge_number=form.badge_number.data.strip(),
                    role=form.role.data, branch_id=admin.branch_id, station_id=station_id,
                    police_area_id=area_id)
                audit.record(admin, "officer.create", "officer", created.id, ip=client_ip(),
                             detail={"role": created.role})
                db.session.commit()
                flash(f"已创建账号 {created.username}", "success")
                return redirect(url_for("console.officers"))
            except IntegrityError:
                db.session.rollback()
                _area_choices(admin, form)
                form.username.errors = ["用户名或警号已被使用"]
    rows = db.session.execute(scoping.scope_officers(
        select(Officer).order_by(Officer.username), admin)).scalars().all()
    status = 400 if request.method == "POST" else 200
    return render_template("console/officers.html", officers=rows, form=form), status


@bp.route("/officers/<int:officer_id>", methods=["GET", "POST"])
@roles_required("system_admin")
def officer_detail(officer_id: int):
    """Change an account's role and area, reset its password, deactivate or reactivate it."""
    admin = current_officer()
    target = scoping.scoped_get(Officer, officer_id, admin)
    edit = OfficerEditForm(prefix="edit", obj=None)
    reset = OfficerPasswordResetForm(prefix="reset")
    toggle = OfficerActiveForm(prefix="toggle")
    _area_choices(admin, edit)
    if request.method == "GET":
        edit.role.data = target.role
        edit.station_id.data = str(target.station_id or "")
        edit.police_area_id.data = str(target.police_area_id or "")
    status = 200
    if request.method == "POST":
        status = 400
        if edit.submit.data and edit.validate():
            station_id, area_id, error = _placement(admin, edit)
            if error:
                edit.role.errors = [error]
            else:
                target.role, target.station_id, target.police_area_id = (
                    edit.role.data, station_id, area_id)
                audit.record(admin, "officer.update", "officer", target.id, ip=client_ip(),
                             detail={"role": target.role, "station_id": station_id,
                                     "police_area_id": area_id})
                db.session.commit()
                flash("已保存", "success")
                return redirect(url_for("console.officer_detail", officer_id=target.id))
        elif reset.submit.data and reset.validate():
            target.password_hash = hash_password(reset.password.data)
            target.password_changed_at = utcnow()
            target.failed_logins, target.locked_until = 0, None
            audit.record(admin, "officer.reset_password", "officer", target.id, ip=client_ip())
            db.session.commit()
            flash("密码已重置，该账号的所有登录已失效", "success")
            return redirect(url_for("console.officer_detail", officer_id=target.id))
        elif toggle.submit.data and toggle.validate():
            if target.id == admin.id:
                flash("不能停用自己的账号", "warning")
                return redirect(url_for("console.officer_detail", officer_id=target.id))
            target.is_active = not target.is_active
            audit.record(admin, "officer.activate" if target.is_active else "officer.deactivate",
                         "officer", target.id, ip=client_ip())
            db.session.commit()
            flash("账号已启用" if target.is_active else "账号已停用", "success")
            return redirect(url_for("console.officer_detail", officer_id=target.id))
        elif not (edit.submit.data or reset.submit.data or toggle.submit.data):
            abort(400)
    return render_template("console/officer.html", target=target, edit=edit, reset=reset,
                           toggle=toggle), status


def _parse_date(text: str | None):
    try:
        return datetime.strptime(text or "", "%Y-%m-%d")
    except ValueError:
        return None


@bp.get("/audit")
@roles_required(*scoping.ADMIN_ROLES)
def audit_log():
    """The audit log of the administrator's officers, filtered by action, officer, object, date."""
    admin = current_officer()
    args = request.args
    stmt = select(AuditLog)
    if args.get("action"):
        stmt = stmt.where(AuditLog.action.like(args["action"][:64].replace("%", "") + "%"))
    if args.get("actor", "").isdigit():
        stmt = stmt.where(AuditLog.actor_id == int(args["actor"]))
    if args.get("object_type"):
        stmt = stmt.where(AuditLog.object_type == args["object_type"][:32])
    if args.get("object_id", "").isdigit():
        stmt = stmt.where(AuditLog.object_id == int(args["object_id"]))
    since, until = _parse_date(args.get("since")), _parse_date(args.get("until"))
    # The dates are Beijing calendar days; the log is kept in UTC.
    if since:
        stmt = stmt.where(AuditLog.at >= since - BEIJING_OFFSET)
    if until:
        stmt = stmt.where(AuditLog.at < until + timedelta(days=1) - BEIJING_OFFSET)
    page = args.get("page", "1")
    page = int(page) if page.isdigit() and 0 < int(page) < 100000 else 1
    rows = db.session.execute(scoping.scope_audit(stmt, admin)
                              .order_by(AuditLog.id.desc()).limit(AUDIT_PER_PAGE + 1)
                              .offset((page - 1) * AUDIT_PER_PAGE)).scalars().all()
    actors_stmt = select(Officer.id, Officer.name).where(Officer.branch_id == admin.branch_id)
    if admin.role == "station_admin":
        actors_stmt = actors_stmt.where(Officer.station_id == admin.station_id)
    actors = db.session.execute(actors_stmt.order_by(Officer.name)).all()
    return render_template("console/audit.html", rows=rows[:AUDIT_PER_PAGE],
                           has_next=len(rows) > AUDIT_PER_PAGE, page=page, args=args,
                           actors=actors, action_choices=list(AUDIT_ACTION_LABELS.items()),
                           object_choices=list(AUDIT_OBJECT_LABELS.items()),
                           object_labels=AUDIT_OBJECT_LABELS)
