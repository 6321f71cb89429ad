"""Administration: officer accounts (system admin) and the audit log viewer (administrators)."""
from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for

from app.console import bp
from app.console.auth import client_ip, current_officer, roles_required
from app.console.forms import (
    OfficerActiveForm, choices, OfficerEditForm, OfficerForm, OfficerPasswordResetForm,
    page_number,
)
from app.extensions import db
from app.models import Officer
from app.services.accounts import scoping
from app.services.accounts import officer_admin
from app.services.errors import RuleError
from app.wording import AUDIT_ACTION_LABELS, AUDIT_OBJECT_LABELS


def _area_choices(officer: Officer, form) -> None:
    stations, areas = officer_admin.area_options(officer)
    form.station_id.choices = choices([("", "（无）")] + [(s.id, s.name) for s in stations])
    form.police_area_id.choices = choices([("", "（无）")] + [(a.id, f"{a.station.name} {a.name}")
                                                            for a in areas])


def _placement_of(form) -> dict:
    return {"role": form.role.data, "station_raw": form.station_id.data,
            "area_raw": form.police_area_id.data}


def _refused_on(form, exc: RuleError) -> None:
    # A refused change leaves nothing behind; the message goes under the field it is about.
    db.session.rollback()
    getattr(form, exc.field).errors = [exc.message]


@bp.route("/officers", methods=["GET", "POST"])
@roles_required("system_admin")
def officers():
    """Officer accounts of the branch, and the form to create one."""
    admin, form = current_officer(), OfficerForm()
    _area_choices(admin, form)
    if form.validate_on_submit():
        try:
            created = officer_admin.create_in_branch(
                admin, username=form.username.data, password=form.password.data,
                name=form.name.data, badge_number=form.badge_number.data, ip=client_ip(),
                **_placement_of(form))
            db.session.commit()
            flash(f"已创建账号 {created.username}", "success")
            return redirect(url_for("console.officers"))
        except RuleError as exc:
            _refused_on(form, exc)
    return render_template("console/officers.html", officers=officer_admin.branch_officers(admin),
                           form=form), 400 if request.method == "POST" else 200


@bp.route("/officers/<int:officer_id>", methods=["GET", "POST"])
@roles_required("system_admin")
def officer_detail(officer_id: int):
    """Change an account's role and area, reset its password, deactivate or reactivate it."""
    admin = current_officer()
    target = scoping.scoped_get(Officer, officer_id, admin)
    forms = {"edit": OfficerEditForm(prefix="edit", obj=None),
             "reset": OfficerPasswordResetForm(prefix="reset"),
             "toggle": OfficerActiveForm(prefix="toggle")}
    _area_choices(admin, forms["edit"])
    if request.method == "GET":
        forms["edit"].role.data = target.role
        forms["edit"].station_id.data = str(target.station_id or "")
        forms["edit"].police_area_id.data = str(target.police_area_id or "")
        return render_template("console/officer.html", target=target, **forms)
    done = _officer_action(admin, target, **forms)
    if done:
        return done
    return render_template("console/officer.html", target=target, **forms), 400


def _officer_action(admin: Officer, target: Officer, edit, reset, toggle):
    """The submitted form's change, then back to the account; None when it was refused."""
    back = redirect(url_for("console.officer_detail", officer_id=target.id))
    if edit.submit.data and edit.validate():
        try:
            officer_admin.change_placement(admin, target, ip=client_ip(), **_placement_of(edit))
        except RuleError as exc:
            return _refused_on(edit, exc)
        message = "已保存"
    elif reset.submit.data and reset.validate():
        officer_admin.reset_password(admin, target, reset.password.data, ip=client_ip())
        message = "密码已重置，该账号的所有登录已失效"
    elif toggle.submit.data and toggle.validate():
        try:
            active = officer_admin.toggle_active(admin, target, ip=client_ip())
        except RuleError:
            flash("不能停用自己的账号", "warning")
            return back
        message = "账号已启用" if active else "账号已停用"
    elif not (edit.submit.data or reset.submit.data or toggle.submit.data):
        abort(400)
    else:
        return None
    db.session.commit()
    flash(message, "success")
    return back


def _parse_date(text: str | None):
    try:
        return datetime.strptime(text or "", "%Y-%m-%d")
    except ValueError:
        return None


def _audit_filter(args) -> officer_admin.AuditFilter:
    def number(key):
        return int(args[key]) if args.get(key, "").isdigit() else None

    return officer_admin.AuditFilter(
        action=args.get("action") or None, actor_id=number("actor"),
        object_type=args.get("object_type") or None, object_id=number("object_id"),
        since=_parse_date(args.get("since")), until=_parse_date(args.get("until")))


@bp.get("/audit")
@roles_required(*scoping.ADMIN_ROLES)
def audit_log():
    """The audit log of the administrator's officers, filtered by action, officer, object, date."""
    admin, args, page = current_officer(), request.args, page_number(request.args)
    rows, has_next = officer_admin.audit_page(admin, _audit_filter(args), page)
    return render_template("console/audit.html", rows=rows, has_next=has_next, page=page,
                           args=args, actors=officer_admin.audit_actors(admin),
                           action_choices=list(AUDIT_ACTION_LABELS.items()),
                           object_choices=list(AUDIT_OBJECT_LABELS.items()),
                           object_labels=AUDIT_OBJECT_LABELS)
