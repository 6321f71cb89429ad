"""H5 pages for landlords: register the house, its agent and pledge, declare tenants in and out."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for

from app.extensions import db
from app.formatting import local_datetime, local_today
from app.h5 import bp
from app.h5.declare import (
    MAX_ROWS, REFUSED, form_with_token, idempotency_key, receipt, refused, registered, rows_asked,
    submitter,
)
from app.h5.forms import check_csrf, load_all, nest, row_defaults
from app.h5.identity import user_required
from app.models import House
from app.models.house import RENTAL_TYPE_LABELS
from app.schemas.claims import AgentInSchema
from app.schemas.declarations import (
    HouseInSchema, MoveInSchema, MoveOutSchema, PledgeInSchema, house_fields,
)
from app.services.declarations import claims, ownership
from app.services.declarations import declare, rentals
from app.services.declarations import self_declare as self_service
from app.services.errors import RuleError
from app.services.declarations.pledge import current_pledge

HOUSE_DEFAULTS = {"rental_type": "whole", "rooms": "1", "owner-document_type": "resident_id"}


@bp.route("/h5/a/<token>/house", methods=["GET", "POST"])
@user_required
def register_house(user, token: str):
    """Register the house at the scanned door plate."""
    address = ownership.address_by_token(token)
    context = _house_form_context(user, address)
    if request.method == "GET":
        return render_template("h5/house_form.html", values=HOUSE_DEFAULTS, errors={}, **context)
    check_csrf()
    try:
        data = load_all(HouseInSchema(), _house_form(token))
        result = rentals.register_house(submitter(user, "landlord"), address, **house_fields(data),
                                        idempotency_key=idempotency_key())
        db.session.commit()
    except REFUSED as exc:
        return refused("h5/house_form.html", exc, **context)
    return registered(result, "h5.pledge", "house_id")


def _house_form_context(user, address) -> dict:
    existing = ownership.house_at_address(address)
    return {"address": address, "existing": existing,
            "claiming": existing is not None and not claims.may_update_house(user.id, existing)}


def _house_form(token: str) -> dict:
    form = form_with_token(token)
    form["is_rental"] = request.form.get("is_rental", "1") == "1"
    if not (form.get("agent") or {}).get("name"):
        form.pop("agent", None)
    return form


@bp.get("/h5/claims/<int:claim_id>")
@user_required
def claim(user, claim_id: int):
    """My ownership claim: what happens next, and the officer's decision once made."""
    mine = claims.my_claim(user, claim_id)
    approved_house = mine.subject_type == "house" and mine.status == "approved"
    return render_template("h5/claim.html", claim=mine,
                           address=claims.subject_of(mine).address if approved_house else None,
                           message=claims.receipt_message(mine),
                           submitted_at=local_datetime(mine.created_at),
                           new=request.args.get("new") == "1")


@bp.post("/h5/claims/<int:claim_id>/withdraw")
@user_required
def withdraw_claim(user, claim_id: int):
    """Withdraw my claim while it still waits for the officer."""
    check_csrf()
    claims.withdraw(claims.my_claim(user, claim_id), user, ip=request.remote_addr)
    db.session.commit()
    return redirect(url_for("h5.claim", claim_id=claim_id))


@bp.route("/h5/houses/<int:house_id>/agent", methods=["GET", "POST"])
@user_required
def agent(user, house_id: int):
    """The owner names or removes the house's agent (托管人)."""
    house = ownership.owned_house(user, house_id)
    if request.method == "GET":
        return render_template("h5/agent.html", values={"agent-document_type": "resident_id"},
                               errors={}, house=house)
    check_csrf()
    try:
        if request.form.get("action") == "remove":
            rentals.remove_agent(submitter(user, "landlord"), house)
        else:
            data = load_all(AgentInSchema(), nest(request.form))
            rentals.set_agent(submitter(user, "landlord"), house, data["agent"])
        db.session.commit()
    except REFUSED as exc:
        return refused("h5/agent.html", exc, house=house)
    return redirect(url_for("h5.house", house_id=house.id, agent=1))


@bp.route("/h5/houses/<int:house_id>/pledge", methods=["GET", "POST"])
@user_required
def pledge(user, house_id: int):
    """Read and sign the current 治安责任保证书."""
    context = {"house": ownership.my_house(user, house_id), "pledge": current_pledge()}
    db.session.commit()  # the shipped default text may have just been created: keep it
    if request.method == "GET":
        return render_template("h5/pledge.html", values={}, errors={}, **context)
    check_csrf()
    try:
        data = _pledge_form()
        rentals.sign_pledge(context["house"], signer_name=data["signer_name"], ip=request.remote_addr)
        db.session.commit()
    except REFUSED as exc:
        return refused("h5/pledge.html", exc, **context)
    return redirect(url_for("h5.house", house_id=house_id, signed=1))


def _pledge_form() -> dict:
    data = PledgeInSchema().load({"signer_name": request.form.get("signer_name", ""),
                                  "agree": request.form.get("agree") == "1"})
    if not data["agree"]:
        raise RuleError("agree", "请阅读并勾选同意保证书")
    return data


@bp.get("/h5/houses")
@user_required
def houses(user):
    """Every house I registered, with tenants and pending matters."""
    return render_template("h5/houses.html", houses=ownership.houses_of(user))


@bp.get("/h5/houses/<int:house_id>")
@user_required
def house(user, house_id: int):
    """One house: current tenants and the actions on it."""
    return _house_page(user, ownership.my_house(user, house_id))


def _house_page(user, house: House, status: int = 200, **extra):
    declarations = ownership.recent_declarations_at(house)
    awaiting = {d.id for d in declarations if d.kind == "self"
                and d.landlord_confirmation in ("pending", "escalated")}
    return render_template("h5/house.html", house=house,
                           tenants=ownership.live_residences(house), declarations=declarations,
                           awaiting=awaiting, me_id=user.id,
                           rental_label=RENTAL_TYPE_LABELS.get(house.rental_type or "", ""),
                           is_owner=ownership.is_owner(user, house),
                           pending_claims=claims.pending_count("house", house.id),
                           **extra), status


@bp.post("/h5/houses/<int:house_id>/vacancy")
@user_required
def vacancy(user, house_id: int):
    """Mark the house vacant (the undeclared-tenant reminder stops) or let again."""
    check_csrf()
    house = ownership.my_house(user, house_id)
    vacant = request.form.get("vacant") == "1"
    try:
        rentals.set_vacancy(house, vacant)
        db.session.commit()
    except RuleError as exc:
        db.session.rollback()
        return _house_page(user, house, 400, vacancy_error=exc.message)
    return redirect(url_for("h5.house", house_id=house.id, vacancy="1" if vacant else "0"))


@bp.route("/h5/houses/<int:house_id>/self/<int:declaration_id>", methods=["GET", "POST"])
@user_required
def answer_self_declaration(user, house_id: int, declaration_id: int):
    """The landlord confirms or denies a tenant's self-declaration at their house."""
    declaration = ownership.self_declaration_at(user, house_id, declaration_id)
    context = {"declaration": declaration, "house": declaration.house,
               "tenant": (declaration.payload.get("tenants") or [{}])[0]}
    if request.method == "GET":
        return render_template("h5/self_answer.html", values={}, errors={}, **context)
    check_csrf()
    try:
        _answer(declaration, submitter(user, "landlord"))
        db.session.commit()
    except REFUSED as exc:
        return refused("h5/self_answer.html", exc, **context)
    return redirect(url_for("h5.answer_self_declaration", **request.view_args))


def _answer(declaration, who: declare.Submitter) -> None:
    if request.form.get("action") == "deny":
        self_service.deny_self_declaration(declaration, who, request.form.get("reason", ""))
    else:
        self_service.confirm_declaration(declaration, who)


@bp.route("/h5/houses/<int:house_id>/move-in", methods=["GET", "POST"])
@user_required
def move_in(user, house_id: int):
    """Declare tenants moving in: several people in one submission."""
    adding = bool(request.form.get("add_row"))
    context = {"house": ownership.my_house(user, house_id), "today": local_today().isoformat(),
               "rows": min(MAX_ROWS, rows_asked() + 1) if adding else rows_asked()}
    if request.method == "GET" or adding:
        values = row_defaults(request.form.to_dict(), "tenants", context["rows"], context["today"])
        return render_template("h5/move_in.html", values=values, errors={}, **context)
    check_csrf()
    try:
        data = load_all(MoveInSchema(), nest(request.form))
        declaration = rentals.declare_move_in(submitter(user, "landlord"), context["house"],
                                              data["tenants"], idempotency_key=idempotency_key())
        db.session.commit()
    except REFUSED as exc:
        return refused("h5/move_in.html", exc, **context)
    return receipt(declaration)


@bp.route("/h5/houses/<int:house_id>/move-out", methods=["GET", "POST"])
@user_required
def move_out(user, house_id: int):
    """Declare tenants moving out."""
    house = ownership.my_house(user, house_id)
    context = _move_out_context(house)
    if request.method == "GET":
        return render_template("h5/move_out.html", values={"end_date": context["today"]},
                               errors={}, **context)
    check_csrf()
    try:
        data = MoveOutSchema().load({"residence_ids": request.form.getlist("residence_ids"),
                                     "end_date": request.form.get("end_date", "")})
        declaration = rentals.declare_move_out(submitter(user, "landlord"), house, **data,
                                               idempotency_key=idempotency_key())
        db.session.commit()
    except REFUSED as exc:
        return refused("h5/move_out.html", exc, **context)
    return receipt(declaration)


def _move_out_context(house: House) -> dict:
    return {"house": house, "tenants": ownership.live_residences(house),
            "today": local_today().isoformat(),
            "chosen": set(request.form.getlist("residence_ids"))}


@bp.post("/h5/houses/<int:house_id>/confirm")
@user_required
def confirm_unchanged(user, house_id: int):
    """One tap: my tenants are unchanged (sets the house's last confirmation)."""
    check_csrf()
    house = ownership.my_house(user, house_id)
    rentals.confirm_tenants_unchanged(house)
    db.session.commit()
    return redirect(url_for("h5.house", house_id=house.id, confirmed=1))


@bp.get("/h5/houses/<int:house_id>/confirm")
@user_required
def confirm_page(user, house_id: int):
    """The page a monthly reminder links to: confirm in one tap."""
    house = ownership.my_house(user, house_id)
    return render_template("h5/confirm.html", house=house,
                           tenants=ownership.live_residences(house))
