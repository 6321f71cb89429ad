"""Console pre-case cross-check (案前比对): upload case persons, follow a large import's progress,
the case persons with the registered-before decision and its evidence; and the 漏登 trace-back
tasks (from cases and spot checks) with the close form. Scoped (scoping.py) and audited."""
from __future__ import annotations

from datetime import date

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.console import bp
from app.console.auth import client_ip, current_officer, roles_required
from app.console.forms import choices
from app.extensions import db
from app.models import (
    CaseCheck, CaseImport, Declaration, MissedRegistration, Officer, Person, utcnow,
)
from app.identity import DOCUMENT_TYPE_LABELS
from app.services.accounts import audit
from app.services.accounts.scoping import ADMIN_ROLES, scoped_get
from app.services.errors import RuleError
from app.services.police import cases as case_service
from app.services.police import cases_import, missed

DECISIONS = {"": "全部", "yes": "案前已登记", "no": "未登记（漏登）"}


class CaseImportForm(FlaskForm):
    file = FileField("CSV 或 XLSX 文件", validators=[FileRequired("请选择文件")])


class MissedCloseForm(FlaskForm):
    outcome = SelectField("追溯结果", choices=choices(missed.OUTCOMES.items()))
    address_text = StringField("实际居住地址", validators=[Optional(), Length(max=128)])
    note = TextAreaField("情况说明", validators=[Optional(), Length(max=2000)])


def _page() -> int:
    value = request.args.get("page", "1")
    return max(int(value), 1) if value.isdigit() and len(value) < 7 else 1


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _case_filters() -> dict:
    decision = request.args.get("decision", "")
    return {"registered": {"yes": True, "no": False}.get(decision),
            "case_number": request.args.get("case_number", "").strip() or None,
            "date_from": _day("date_from"), "date_to": _day("date_to"),
            "import_id": int(request.args["import"]) if request.args.get(
                "import", "").isdigit() else None}


@bp.get("/cases")
@login_required
def cases_list():
    """Case persons of my area with the registered-before decision, filterable; the upload."""
    officer = current_officer()
    rows, has_next = case_service.case_checks_for(officer, **_case_filters(), page=_page())
    return render_template("console/cases.html", rows=rows, has_next=has_next, page=_page(),
                           args=request.args, decisions=DECISIONS, form=CaseImportForm(),
                           may_import=case_service.may_import(officer),
                           kinds=case_service.EVIDENCE_KINDS)


@bp.post("/cases/import")
@roles_required(*ADMIN_ROLES)
def cases_import_upload():
    """Upload case persons (docs/IMPORTS.md): small files import at once, large ones as a job."""
    officer, form = current_officer(), CaseImportForm()
    if not form.validate_on_submit():
        return _upload_error(form.file.errors[0] if form.file.errors else "请选择文件")
    try:
        record = cases_import.start_import(officer, form.file.data.filename or "",
                                           form.file.data.read(), config=current_app.config)
    except RuleError as exc:
        db.session.rollback()
        return _upload_error(exc.message)
    audit.record(officer, "case.import", "case_import", record.id, ip=client_ip(),
                 detail={"rows": record.total, "inline": record.path is None})
    db.session.commit()
    return redirect(url_for("console.case_import", import_id=record.id))


def _upload_error(message: str):
    officer = current_officer()
    rows, has_next = case_service.case_checks_for(officer, page=1)
    return render_template("console/cases.html", rows=rows, has_next=has_next, page=1,
                           args={}, decisions=DECISIONS, form=CaseImportForm(), error=message,
                           may_import=True, kinds=case_service.EVIDENCE_KINDS), 400


@bp.get("/cases/imports/<int:import_id>")
@roles_required(*ADMIN_ROLES)
def case_import(import_id: int):
    """One import: progress while the job runs (the page refreshes itself), then the report."""
    record = scoped_get(CaseImport, import_id, current_officer())
    return render_template("console/case_import.html", record=record,
                           percent=cases_import.progress(record),
                           running=record.status in ("pending", "running"))


@bp.get("/cases/<int:case_id>")
@login_required
def case_person(case_id: int):
    """One case person: the decision, the evidence (which declaration, submitted when), the 漏登."""
    check = scoped_get(CaseCheck, case_id, current_officer())
    evidence = db.session.get(Declaration, check.evidence_declaration_id) \
        if check.evidence_declaration_id else None
    return render_template("console/case_person.html", check=check, evidence=evidence,
                           task=missed.task_for_case(check), kinds=case_service.EVIDENCE_KINDS,
                           doc_types=DOCUMENT_TYPE_LABELS)


@bp.get("/missed")
@login_required
def missed_list():
    """漏登 trace-back tasks of my area (from cases and spot checks), nearest deadline first."""
    status = request.args.get("status", "open")
    status = status if status in ("open", "resolved", "all") else "open"
    source = request.args.get("source") or None
    rows, has_next = missed.misses_for(current_officer(), status=status, source=source,
                                       overdue=request.args.get("overdue") == "1", page=_page())
    return render_template("console/missed_list.html", rows=rows, has_next=has_next,
                           page=_page(), status=status, source=source, args=request.args,
                           sources=missed.SOURCES)


def _render_missed(task: MissedRegistration, form=None, status: int = 200):
    landlord = db.session.get(Person, task.landlord_person_id) if task.landlord_person_id \
        else None
    closer = db.session.get(Officer, task.resolved_by_officer_id) \
        if task.resolved_by_officer_id else None
    return render_template("console/missed.html", task=task, form=form or MissedCloseForm(),
                           landlord=landlord, closer=closer, sources=missed.SOURCES,
                           overdue=task.status == "open" and task.deadline < utcnow()), status


@bp.get("/missed/<int:missed_id>")
@login_required
def missed_task(missed_id: int):
    """One 漏登: the case or spot check behind it, 已补登 if so, the close form, 记录处罚."""
    return _render_missed(scoped_get(MissedRegistration, missed_id, current_officer()))


def _refused(missed_id: int, form, exc: RuleError):
    db.session.rollback()
    form.errors_by_service = {exc.field: exc.message}
    return _render_missed(scoped_get(MissedRegistration, missed_id, current_officer()), form, 400)


@bp.post("/missed/<int:missed_id>/close")
@login_required
def missed_close(missed_id: int):
    """Close a trace-back with the outcome and where the person actually lived; audited."""
    officer, form = current_officer(), MissedCloseForm()
    task = scoped_get(MissedRegistration, missed_id, officer, for_update=True)
    if not form.validate_on_submit():
        return _render_missed(task, form, 400)
    try:
        missed.close(task, officer, outcome=form.outcome.data, note=form.note.data,
                     address_text=form.address_text.data)
    except RuleError as exc:
        return _refused(missed_id, form, exc)
    audit.record(officer, "missed.close", "missed_registration", task.id, ip=client_ip(),
                 detail={"outcome": task.outcome_code, "source": task.source})
    db.session.commit()
    return _closed(task)


def _closed(task: MissedRegistration):
    flash("漏登追溯已办结", "success")
    return redirect(url_for("console.missed_task", missed_id=task.id))
