"""Console field work: the watch list (关注人员: list, 列管/撤管, import), control tasks completed
item by item on a phone, the 五见/四知 templates, and the alerts to handle (预警处置)."""
from __future__ import annotations


from datetime import datetime

from flask import (
    abort, flash, redirect, render_template, request, send_file, url_for,
)
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.console import bp
from app.console.auth import client_ip, current_officer, roles_required
from app.console.forms import choices
from app.extensions import db
from app.identity import DOCUMENT_TYPE_LABELS
from app.models import Alert, ControlTask, Employer, House, Watch
from app.services.accounts.scoping import ADMIN_ROLES, scoped_get
from app.services.errors import RuleError
from app.services.police import checklist
from app.services.police import alerts as alert_service
from app.services.police import tasks as task_service
from app.services.police import watch as watch_service
from app.services.police.checklist import active_templates
from app.storage import evidence_dir

BRANCH_ROLES = ("branch_admin", "system_admin")


class ListForm(FlaskForm):
    document_type = SelectField("证件类型", choices=choices(DOCUMENT_TYPE_LABELS.items()))
    document_number = StringField("证件号码", validators=[DataRequired("请填写证件号码"),
                                                      Length(max=32)])
    name = StringField("姓名", validators=[DataRequired("请填写姓名"), Length(max=64)])
    category = StringField("类别", validators=[DataRequired("请填写类别"), Length(max=32)])
    source = StringField("来源", validators=[DataRequired("请填写来源"), Length(max=64)])
    listed_on = DateField("列管日期", validators=[Optional()])
    reason = TextAreaField("列管原因", validators=[DataRequired("请填写列管原因"),
                                                Length(max=2000)])


class DelistForm(FlaskForm):
    reason = TextAreaField("撤管原因", validators=[DataRequired("请填写撤管原因"),
                                                Length(max=2000)])


class WatchImportForm(FlaskForm):
    file = FileField("CSV 或 XLSX 文件", validators=[FileRequired("请选择文件")])


class ItemForm(FlaskForm):
    lat = HiddenField()
    lng = HiddenField()
    no_gps_reason = StringField("无法定位的原因", validators=[Optional(), Length(max=200)])
    note = TextAreaField("情况记录", validators=[Optional(), Length(max=1000)])
    photo = FileField("照片（可选，JPEG/PNG，≤ 5 MB）")


class CloseAlertForm(FlaskForm):
    outcome = SelectField("处置结果", choices=choices(alert_service.OUTCOMES.items()))
    note = TextAreaField("处置情况", validators=[DataRequired("请填写处置情况"), Length(max=2000)])


class TemplateForm(FlaskForm):
    pass


@bp.app_template_filter("fromiso")
def fromiso(value):
    """A stored ISO time (checklist JSON) as a datetime, for the bjt macro."""
    return datetime.fromisoformat(value) if value else None


def _page() -> int:
    value = request.args.get("page", "1")
    return max(int(value), 1) if value.isdigit() and len(value) < 7 else 1


# -- watch list --------------------------------------------------------------------------------

@bp.get("/watch")
@login_required
def watch_list():
    """The watch list: station admins and above see all of it; an officer only the listed
    persons behind the tasks in the officer's own area."""
    officer = current_officer()
    status = request.args.get("status", "live")
    if status not in ("live", "delisted", "all"):
        status = "live"
    rows, has_next = watch_service.watches_for(officer, status=status, page=_page())
    return render_template("console/watch_list.html", rows=rows, has_next=has_next,
                           page=_page(), status=status, form=ListForm(),
                           import_form=WatchImportForm(), delist_form=DelistForm(),
                           may_manage=watch_service.may_manage(officer),
                           type_labels=DOCUMENT_TYPE_LABELS)


@bp.post("/watch")
@roles_required(*ADMIN_ROLES)
def watch_add():
    """列管 by hand (station admin and above): audited with the reason."""
    officer, form = current_officer(), ListForm()
    if not form.validate_on_submit():
        return _watch_refused(officer, form, _form_errors(form))
    try:
        _, created = watch_service.list_person_audited(
            officer, ip=client_ip(), document_type=form.document_type.data,
            document_number=form.document_number.data, name=form.name.data,
            category=form.category.data, source=form.source.data, reason=form.reason.data,
            listed_on=form.listed_on.data)
    except RuleError as exc:
        db.session.rollback()
        return _watch_refused(officer, form, exc.message)
    db.session.commit()
    flash(f"已列管；新生成管控任务 {len(created)} 个", "success")
    return redirect(url_for("console.watch_list"))


def _form_errors(form) -> str:
    return "；".join(e for errs in form.errors.values() for e in errs)


def _watch_refused(officer, form, error: str):
    rows, has_next = watch_service.watches_for(officer, page=1)
    return render_template("console/watch_list.html", rows=rows, has_next=has_next, page=1,
                           status="live", form=form, import_form=WatchImportForm(),
                           delist_form=DelistForm(), may_manage=True, error=error,
                           type_labels=DOCUMENT_TYPE_LABELS), 400


@bp.post("/watch/<int:watch_id>/delist")
@roles_required(*ADMIN_ROLES)
def watch_delist(watch_id: int):
    """撤管 with a reason (station admin and above): open tasks are cancelled; audited."""
    officer = current_officer()
    entry = scoped_get(Watch, watch_id, officer)
    form = DelistForm()
    if not form.validate_on_submit():
        flash("请填写撤管原因", "danger")
        return redirect(url_for("console.watch_list"))
    try:
        watch_service.delist_audited(officer, entry, form.reason.data, ip=client_ip())
        db.session.commit()
        flash("已撤管", "success")
    except RuleError as exc:
        db.session.rollback()
        flash(exc.message, "warning")
    return redirect(url_for("console.watch_list"))


@bp.route("/watch/import", methods=["GET", "POST"])
@roles_required(*ADMIN_ROLES)
def watch_import():
    """Upload a watch-list CSV/XLSX (docs/IMPORTS.md): bad rows by line, good ones imported."""
    form = WatchImportForm()
    report = error = None
    if form.validate_on_submit():
        try:
            report = watch_service.import_file_audited(
                current_officer(), form.file.data.filename or "", form.file.data.read(),
                ip=client_ip())
            db.session.commit()
        except RuleError as exc:
            error = exc.message
    elif request.method == "POST":
        error = "请选择文件"
    return render_template("console/watch_import.html", form=form, report=report,
                           error=error), 400 if error else 200


# -- control tasks -------------------------------------------------------------------------------

@bp.get("/tasks")
@login_required
def tasks():
    """Control tasks in the officer's area, nearest deadline first."""
    status = request.args.get("status", "open")
    if status not in (*task_service.STATUS_LABELS, "all"):
        status = "open"
    rows, has_next = task_service.tasks_for(current_officer(), status=status, page=_page())
    return render_template("console/tasks.html", rows=rows, has_next=has_next, page=_page(),
                           status=status, labels=task_service.STATUS_LABELS)


def _place(task: ControlTask) -> str:
    if task.house_id:
        house = db.session.get(House, task.house_id)
        return house.address.full_text if house else ""
    employer = db.session.get(Employer, task.employer_id) if task.employer_id else None
    return employer.name if employer else ""


def _render_task(task: ControlTask, form: ItemForm | None = None, error: str | None = None,
                 status: int = 200):
    return render_template("console/task.html", task=task, form=form or ItemForm(),
                           error=error, place=_place(task), labels=task_service.STATUS_LABELS,
                           on_time=task_service.is_on_time(task)), status


@bp.get("/tasks/<int:task_id>")
@login_required
def task(task_id: int):
    """One control task: each checklist item, done or with a form to complete it on a phone."""
    return _render_task(scoped_get(ControlTask, task_id, current_officer()))


@bp.post("/tasks/<int:task_id>/items/<key>")
@login_required
def complete_item(task_id: int, key: str):
    """Complete one item: time and officer recorded, GPS from the phone or a reason why not."""
    officer = current_officer()
    task = scoped_get(ControlTask, task_id, officer, for_update=True)
    form = ItemForm()
    if not form.validate_on_submit():
        return _render_task(task, form, _form_errors(form), 400)
    try:
        item = task_service.complete_item_audited(task, key, officer, via="console",
                                                  ip=client_ip(), **_item_fields(form))
    except RuleError as exc:
        db.session.rollback()
        return _render_task(scoped_get(ControlTask, task_id, officer), form, exc.message, 400)
    db.session.commit()
    flash(f"已完成：{item['label']}", "success")
    return redirect(url_for("console.task", task_id=task.id))


def _item_fields(form: ItemForm) -> dict:
    """The item form as complete_item's keywords; the photo, if any, kept as evidence first."""
    photo = None
    if form.photo.data and getattr(form.photo.data, "filename", ""):
        photo = task_service.store_photo(evidence_dir(), form.photo.data.read())
    return {"photo": photo, "lat": form.lat.data or None, "lng": form.lng.data or None,
            "no_gps_reason": form.no_gps_reason.data, "note": form.note.data}


@bp.get("/tasks/<int:task_id>/photos/<name>")
@login_required
def task_photo(task_id: int, name: str):
    """An evidence photo of a task in the officer's area."""
    task = scoped_get(ControlTask, task_id, current_officer())
    if name not in {i.get("photo") for i in task.checklist}:
        abort(404)
    path = task_service.photo_path(evidence_dir(), name)
    if path is None:
        abort(404)
    return send_file(path, mimetype="image/png" if name.endswith(".png") else "image/jpeg")


# -- checklist templates ------------------------------------------------------------------------

@bp.route("/checklists", methods=["GET", "POST"])
@roles_required(*BRANCH_ROLES)
def checklists():
    """Edit the 五见/四知 templates (branch admin): saving adds a version; tasks keep theirs."""
    form, templates, error = TemplateForm(), active_templates(), None
    if request.method == "POST" and form.validate_on_submit():
        try:
            return _saved_template()
        except RuleError as exc:
            db.session.rollback()
            error = exc.message
    else:
        db.session.commit()  # the shipped defaults, created on first view
    return render_template("console/checklists.html", templates=templates, form=form,
                           error=error, history=checklist.template_history()), 400 if error else 200


def _saved_template():
    new = checklist.save_version_audited(current_officer(), request.form.get("template_id"),
                                         _template_rows(), ip=client_ip())
    if new is None:
        abort(404)
    db.session.commit()
    flash(f"已保存{new.name}第 {new.version} 版", "success")
    return redirect(url_for("console.checklists"))


def _template_rows() -> list[dict]:
    return [{"key": request.form.get(f"key_{i}", ""), "label": request.form.get(f"label_{i}", ""),
             "deadline_days": request.form.get(f"days_{i}", "")} for i in range(30)
            if f"label_{i}" in request.form]


# -- alerts --------------------------------------------------------------------------------------

@bp.get("/alerts")
@login_required
def alerts():
    """Alerts to handle (预警处置) in the officer's area, nearest deadline first."""
    status = request.args.get("status", "open")
    if status not in ("open", "closed", "all"):
        status = "open"
    kind = request.args.get("kind") or None
    rows, has_next = alert_service.alerts_for(current_officer(), status=status, kind=kind,
                                              page=_page())
    return render_template("console/alerts.html", rows=rows, has_next=has_next, page=_page(),
                           status=status, kind=kind, labels=alert_service.KIND_LABELS)


def _render_alert(alert: Alert, form=None, status: int = 200):
    owner = db.session.get(type(current_officer()), alert.owner_officer_id) \
        if alert.owner_officer_id else None
    task = db.session.get(ControlTask, alert.object_id) \
        if alert.object_type == "control_task" else None
    return render_template("console/alert.html", alert=alert, form=form or CloseAlertForm(),
                           owner=owner, task=task, labels=alert_service.KIND_LABELS), status


@bp.get("/alerts/<int:alert_id>")
@login_required
def alert(alert_id: int):
    """One alert with its owner, deadline and the close form."""
    return _render_alert(scoped_get(Alert, alert_id, current_officer()))


@bp.post("/alerts/<int:alert_id>/close")
@login_required
def close_alert(alert_id: int):
    """Close an alert with an outcome and a note; audited."""
    officer = current_officer()
    alert = scoped_get(Alert, alert_id, officer, for_update=True)
    form = CloseAlertForm()
    if not form.validate_on_submit():
        return _render_alert(alert, form, 400)
    try:
        alert_service.close_alert_audited(alert, officer, form.outcome.data, form.note.data,
                                          ip=client_ip())
    except RuleError as exc:
        db.session.rollback()
        flash(exc.message, "warning")
        return redirect(url_for("console.alert", alert_id=alert_id))
    db.session.commit()
    flash("已处置", "success")
    return redirect(url_for("console.alerts"))

