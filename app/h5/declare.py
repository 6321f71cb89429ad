"""H5 pages where landlords, tenants and employers declare (DESIGN §4 flows 1–4): the helpers
the landlord, tenant and employer pages share, and my declarations (list, detail, correction).

Each page loads the submitted form with the same schema as the API, calls the same service,
commits once, and on refusal shows the form again with everything typed and the errors in place.
"""
from __future__ import annotations

import secrets

from flask import redirect, render_template, request, url_for
from marshmallow import ValidationError

from app.extensions import db
from app.h5 import bp
from app.h5.forms import check_csrf, errors_of, generate_csrf, load_all, nest
from app.h5.identity import user_required
from app.identity import IdentityError
from app.models import Declaration, OwnershipClaim
from app.models.declaration import KIND_LABELS, STATUS_LABELS
from app.models.house import RENTAL_TYPE_LABELS, RENTAL_TYPES
from app.identity import DOCUMENT_TYPE_LABELS, DOCUMENT_TYPES
from app.schemas.declarations import CorrectionSchema
from app.services.declarations import corrections, ownership
from app.services.registry import typed_address
from app.services.declarations import declare
from app.services.errors import RuleError
from app.services.declarations.validation import public_reasons
from app.wording import NEXT_STEPS

REFUSED = (ValidationError, RuleError, IdentityError)
DOC_OPTIONS = [(t, DOCUMENT_TYPE_LABELS[t]) for t in DOCUMENT_TYPES]
RENTAL_OPTIONS = [(t, RENTAL_TYPE_LABELS[t]) for t in RENTAL_TYPES]
MAX_ROWS = 10
H5_COMMUNITIES = 200  # a phone's select; more are found with the name filter


@bp.context_processor
def _helpers():
    return {"csrf_token": generate_csrf, "new_key": lambda: secrets.token_urlsafe(16),
            "doc_options": DOC_OPTIONS,
            "rental_options": RENTAL_OPTIONS, "kind_labels": KIND_LABELS,
            "status_labels": STATUS_LABELS, "next_steps": NEXT_STEPS}


def submitter(user, role: str) -> declare.Submitter:
    return declare.Submitter(role, user.id, channel="wechat_h5", ip=request.remote_addr)


def idempotency_key() -> str | None:
    return request.form.get("idempotency_key")


def rows_asked(default: int = 1) -> int:
    try:
        return max(1, min(MAX_ROWS, int(request.values.get("rows", default))))
    except ValueError:
        return default


def form_with_token(token: str) -> dict:
    """The nested form with the scanned door plate's token, as the API body carries it."""
    form = nest(request.form)
    form["qr_token"] = token
    return form


def refused(template: str, exc: Exception, **context):
    db.session.rollback()
    return render_template(template, values=request.form.to_dict(), errors=errors_of(exc),
                           **context), 400


def receipt(declaration: Declaration):
    return redirect(url_for("h5.declaration", declaration_id=declaration.id, new=1))


def registered(result: Declaration | OwnershipClaim, endpoint: str, id_name: str):
    """A registration's next page (by the declaration's house_id or employer_id), or the
    receipt of the ownership claim a taken house or USCC filed."""
    if isinstance(result, OwnershipClaim):
        return redirect(url_for("h5.claim", claim_id=result.id, new=1))
    return redirect(url_for(endpoint, **{id_name: getattr(result, id_name)}))


@bp.get("/h5/declarations")
@user_required
def declarations(user):
    """Every declaration I submitted with its status."""
    return render_template("h5/declarations.html",
                           declarations=ownership.my_declarations(user, limit=100))


@bp.route("/h5/declarations/<int:declaration_id>", methods=["GET", "POST"])
@user_required
def declaration(user, declaration_id: int):
    """A declaration's status, public reasons and receipt; a rejected or flagged one (and any
    move-in or self-declaration) can be corrected here."""
    declaration = ownership.my_declaration(user, declaration_id)
    context = _declaration_context(declaration)
    if request.method == "GET":
        return render_template("h5/declaration.html", values={}, errors={}, **context)
    check_csrf()
    try:
        data = typed_address.correction_dormitory(load_all(CorrectionSchema(), nest(request.form)))
        correction = corrections.correct(submitter(user, declaration.submitter_role), declaration,
                                         data, idempotency_key=idempotency_key())
        db.session.commit()
    except REFUSED as exc:
        return refused("h5/declaration.html", exc, **context)
    return receipt(correction)


def _declaration_context(declaration: Declaration) -> dict:
    residences, employments = ownership.declaration_people(declaration)
    return {"declaration": declaration, "reasons": public_reasons(declaration),
            "residences": residences, "employments": employments,
            "correctable": corrections.correctable(declaration),
            "new": request.args.get("new") == "1"}
