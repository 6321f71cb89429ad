"""H5 pages for employers: register the employer, declare hires (with dormitory) and leavers."""
from __future__ import annotations

from flask import render_template, request

from app.extensions import db
from app.formatting import local_today
from app.h5 import bp
from app.h5.declare import (
    H5_COMMUNITIES, REFUSED, form_with_token, idempotency_key, receipt, refused, registered,
    rows_asked, submitter,
)
from app.h5.forms import check_csrf, load_all, nest, row_defaults
from app.h5.identity import user_required
from app.schemas.declarations import EmployerInSchema, HireSchema, LeaveSchema, employer_fields
from app.services.declarations import declare, employers
from app.services.declarations import ownership
from app.services.registry import typed_address


@bp.route("/h5/a/<token>/employer", methods=["GET", "POST"])
@user_required
def register_employer(user, token: str):
    """Register the employer (统一社会信用代码) at the scanned address."""
    address = ownership.address_by_token(token)
    if request.method == "GET":
        return render_template("h5/employer_form.html", values={}, errors={}, address=address)
    check_csrf()
    try:
        data = load_all(EmployerInSchema(), form_with_token(token))
        result = employers.register_employer(submitter(user, "employer"), address=address,
                                             **employer_fields(data), idempotency_key=idempotency_key())
        db.session.commit()
    except REFUSED as exc:
        return refused("h5/employer_form.html", exc, address=address)
    return registered(result, "h5.employer", "employer_id")


@bp.route("/h5/employers/<int:employer_id>", methods=["GET", "POST"])
@user_required
def employer(user, employer_id: int):
    """My employer: current workers, declare hires (with dormitory) and leavers."""
    employer = ownership.my_employer(user, employer_id)
    context = _employer_context(employer)
    if request.method == "GET":
        values = row_defaults({}, "workers", context["rows"], context["today"])
        return render_template("h5/employer.html", values=values, errors={}, **context)
    check_csrf()
    try:
        declaration = (_declare_leave if request.form.get("action") == "leave"
                       else _declare_hire)(submitter(user, "employer"), employer)
        db.session.commit()
    except REFUSED as exc:
        return refused("h5/employer.html", exc, **context)
    return receipt(declaration)


def _employer_context(employer) -> dict:
    return {"employer": employer, "workers": ownership.current_workers(employer),
            "rows": rows_asked(), "today": local_today().isoformat(),
            "communities": typed_address.communities(limit=H5_COMMUNITIES)}


def _declare_leave(who: declare.Submitter, employer):
    data = LeaveSchema().load({"employment_ids": request.form.getlist("employment_ids"),
                               "end_date": request.form.get("end_date", "")})
    return employers.declare_leave(who, employer, data["employment_ids"], data["end_date"])


def _declare_hire(who: declare.Submitter, employer):
    data = load_all(HireSchema(), nest(request.form))
    return employers.declare_hire(who, employer, typed_address.hire_dormitories(data["workers"]),
                                  idempotency_key=idempotency_key())
