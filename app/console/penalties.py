"""Console penalty decisions (处罚决定): the form opened from a 漏登 task (?missed=) or a house
(?house=), with the table of laws and the landlord's earlier 漏登 and penalties; the decision's
page and its printable one-page PDF record."""
from __future__ import annotations

import secrets

from flask import Response, abort, redirect, render_template, request, url_for
from flask_login import login_required
from marshmallow import ValidationError

from app.console import bp, idempotent
from app.console.auth import client_ip, current_officer
from app.errors import flatten_messages
from app.extensions import db
from app.formatting import local_today
from app.models.penalty import PENALTY_KIND_LABELS
from app.schemas.penalties import PenaltyInSchema
from app.services.errors import RuleError
from app.services.police import legal_basis
from app.services.police import penalties as penalty_service


bp.add_app_template_global(penalty_service.sanction_label, "sanction_label")


def _target():
    officer = current_officer()
    if request.args.get("missed"):
        return penalty_service.target_for_missed(request.args["missed"], officer)
    if request.args.get("house"):
        return penalty_service.target_for_house(request.args["house"], officer)
    abort(404)


def _render_new(target, values=None, errors=None, status=200):
    values = values or {}
    day = target.default_offence_date or local_today()
    landlord = next((p for p in target.landlords if p.id == target.default_landlord_id), None)
    record = penalty_service.landlord_record(landlord, current_officer()) if landlord else None
    return render_template(
        "console/penalty_new.html", target=target, form=idempotent.CsrfForm(), values=values,
        errors=errors or {}, bases=legal_basis.table(), kinds=PENALTY_KIND_LABELS,
        key=values.get("idempotency_key") or secrets.token_hex(16),
        default_date=day, landlord=landlord, record=record,
        recent=record.offences_within(day, target.missed.id if target.missed else None)
        if record else []), status


@bp.get("/penalties/new")
@login_required
def penalty_new():
    """The penalty form for a 漏登 (?missed=) or a house (?house=) of my station or area."""
    return _render_new(_target())


@bp.post("/penalties/new")
@login_required
def penalty_record():
    """Record the decision: basis by offence date, amount within its range; audited. The form
    carries a key made when it was opened, so a double click or a resend records it once."""
    target, officer, form = _target(), current_officer(), request.form
    if problem := idempotent.form_problem(form):
        return _render_new(target, form, {"_form": problem}, 400)
    try:
        if location := idempotent.stored_location(officer, form):
            return redirect(location, 303)
        data = PenaltyInSchema().load(form.to_dict())
        penalty = penalty_service.record_penalty(officer, target, ip=client_ip(), **data)
    except ValidationError as exc:
        return _render_new(target, form, flatten_messages(exc.messages), 400)
    except RuleError as exc:
        db.session.rollback()
        status = 409 if exc.field == "status" else 400
        return _render_new(target, form, {exc.field: exc.message}, status)
    return idempotent.answered(officer, form, url_for("console.penalty", penalty_id=penalty.id))


@bp.get("/penalties/<int:penalty_id>")
@login_required
def penalty(penalty_id: int):
    """One decision: landlord, house, basis with the quoted article, sanction, who and when."""
    p = penalty_service.get_penalty(penalty_id, current_officer())
    return render_template("console/penalty.html", penalty=p,
                           sanction=penalty_service.sanction_label(p),
                           basis=legal_basis.by_key(p.legal_basis_key))


@bp.get("/penalties/<int:penalty_id>/record.pdf")
@login_required
def penalty_pdf(penalty_id: int):
    """The printable one-page record of the decision (PDF), citing the legal text."""
    p = penalty_service.get_penalty(penalty_id, current_officer())
    return Response(penalty_service.render_pdf(p), mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=penalty-{p.id}.pdf"})
