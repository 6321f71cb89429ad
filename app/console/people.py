"""Console search, persons and houses with their timelines, full-number reveal and export."""
from __future__ import annotations

from flask import Response, abort, render_template, request
from flask_login import login_required
from sqlalchemy import select

from app import crypto
from app.console import bp
from app.console.auth import client_ip, current_officer
from app.console.forms import ExportForm, RevealForm
from app.db_read import read_session
from app.extensions import db
from app.models import Declaration, House, Person
from app.models.house import RENTAL_TYPE_LABELS
from app.models.person import DOCUMENT_TYPE_LABELS
from app.services import audit, scoping, search as search_service

DECLARED_BY_LABELS = {"landlord": "房东", "tenant": "租客本人", "employer": "用工单位",
                      "officer": "民警", "import": "批量导入"}
RESIDENCE_STATUS_LABELS = {"pending": "待确认", "active": "在住", "ended": "已离开"}
REVEAL_FIELDS = {"document": "证件号码", "phone": "手机号码"}


@bp.context_processor
def people_labels():
    """Labels used by the person and house pages."""
    return {"DECLARED_BY_LABELS": DECLARED_BY_LABELS, "DOCUMENT_TYPE_LABELS": DOCUMENT_TYPE_LABELS,
            "RESIDENCE_STATUS_LABELS": RESIDENCE_STATUS_LABELS,
            "RENTAL_TYPE_LABELS": RENTAL_TYPE_LABELS}


@bp.get("/search")
@login_required
def search():
    """Search the area by document number, name, phone, address text or receipt code."""
    q = request.args.get("q", "")
    kind = request.args.get("kind", "auto")
    with read_session() as reader:  # heavy read: the replica when there is one
        result = search_service.search(q, current_officer(), kind, session=reader)
        export_form = ExportForm(q=q, kind=result.kind)
        return render_template("console/search.html", q=q, kind=kind, result=result,
                               kinds=search_service.SEARCH_KINDS, export_form=export_form)


@bp.post("/search/export")
@login_required
def export():
    """CSV of a person search: masked for officers; full only for admins who give a reason."""
    officer = current_officer()
    form = ExportForm()
    if not form.validate_on_submit():
        abort(400)
    full = bool(form.full.data) and officer.role in scoping.ADMIN_ROLES
    reason = (form.reason.data or "").strip()
    if full and len(reason) < 4:
        abort(400)
    with read_session() as reader:  # the rows from the replica; the audit row on the primary
        result = search_service.search(form.q.data or "", officer, form.kind.data or "auto",
                                       session=reader)
        body = search_service.export_persons_csv(result.persons, full=full)
    audit.record(officer, "search.export_full" if full else "search.export", "person", None,
                 reason=reason or None, ip=client_ip(),
                 detail={"kind": result.kind, "count": len(result.persons)})
    db.session.commit()
    return Response(body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=persons.csv",
                             "Cache-Control": "no-store"})


def _render_person(person: Person, revealed: dict | None = None, status: int = 200,
                   reveal_form=None):
    officer = current_officer()
    timeline = search_service.person_timeline(person, officer)
    declaration_ids = [r.declaration_id for r in timeline if r.declaration_id]
    receipts = dict(db.session.execute(scoping.scope_declarations(
        select(Declaration.id, Declaration.receipt_code).where(
            Declaration.id.in_(declaration_ids)), officer)).all()) if declaration_ids else {}
    return render_template("console/person.html", person=person, timeline=timeline,
                           receipts=receipts, revealed=revealed or {},
                           reveal_form=reveal_form or RevealForm(),
                           reveal_fields=REVEAL_FIELDS), status


@bp.get("/persons/<int:person_id>")
@login_required
def person(person_id: int):
    """A person (masked) and where and when they lived in the area, declared by whom."""
    return _render_person(scoping.scoped_get(Person, person_id, current_officer()))


@bp.post("/persons/<int:person_id>/reveal")
@login_required
def reveal_person(person_id: int):
    """Show a person's full document or phone number after a reason; writes an audit row."""
    officer = current_officer()
    p = scoping.scoped_get(Person, person_id, officer)
    form = RevealForm()
    if not form.validate_on_submit():
        return _render_person(p, status=400, reveal_form=form)
    field = form.field.data
    if field not in REVEAL_FIELDS or (field == "phone" and not p.phone_enc):
        abort(404)
    audit.record(officer, f"person.reveal_{field}", "person", p.id, reason=form.reason.data,
                 ip=client_ip())
    db.session.commit()
    value = crypto.decrypt(p.document_number_enc if field == "document" else p.phone_enc)
    response, status = _render_person(p, revealed={field: value})
    return response, status, {"Cache-Control": "no-store"}


@bp.get("/houses/<int:house_id>")
@login_required
def house(house_id: int):
    """A house and its timeline: who lived there and when."""
    h = scoping.scoped_get(House, house_id, current_officer())
    return render_template("console/house.html", house=h,
                           timeline=search_service.house_timeline(h))
