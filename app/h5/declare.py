"""H5 pages where landlords, tenants and employers declare (DESIGN §4 flows 1–4).

Each page loads the submitted form with the same schema as the API, calls the same service,
commits once, and on refusal shows the form again with everything typed and the errors in place.
"""
from __future__ import annotations

import secrets

from flask import current_app, redirect, render_template, request, session, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from app.extensions import db
from app.formatting import local_datetime, local_today
from app.h5 import bp, code_guess_limit
from app.h5.forms import check_csrf, errors_of, generate_csrf, load_all, nest
from app.h5.identity import user_required
from app.identity import IdentityError
from app.models import Declaration, Employment, House, OwnershipClaim, Residence
from app.models.declaration import KIND_LABELS, STATUS_LABELS
from app.models.house import RENTAL_TYPE_LABELS, RENTAL_TYPES
from app.models.person import DOCUMENT_TYPE_LABELS, DOCUMENT_TYPES
from app.schemas.claims import AgentInSchema
from app.schemas.declarations import (
    CorrectionSchema, EmployerInSchema, HireSchema, HouseInSchema, LeaveSchema, MoveInSchema,
    MoveOutSchema, PledgeInSchema, SelfDeclarationSchema,
)
from app import crypto
from app.services.declarations import claims, corrections
from app.services.registry import typed_address
from app.services.declarations import declare as svc
from app.services.people import linking
from app.services.declarations import ownership
from app.services.errors import RuleError
from app.services.declarations.pledge import current_pledge
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


def _submitter(user, role: str) -> svc.Submitter:
    return svc.Submitter(role, user.id, channel="wechat_h5", ip=request.remote_addr)


def _rows(default: int = 1) -> int:
    try:
        return max(1, min(MAX_ROWS, int(request.values.get("rows", default))))
    except ValueError:
        return default


def _refused(template: str, exc: Exception, **context):
    db.session.rollback()
    return render_template(template, values=request.form.to_dict(), errors=errors_of(exc),
                           **context), 400


def _receipt(declaration: Declaration):
    return redirect(url_for("h5.declaration", declaration_id=declaration.id, new=1))


def _claim_receipt(claim: OwnershipClaim):
    return redirect(url_for("h5.claim", claim_id=claim.id, new=1))


# -- landlord: house, pledge, tenants -------------------------------------------------------------

@bp.route("/h5/a/<token>/house", methods=["GET", "POST"])
@user_required
def register_house(user, token: str):
    """Register the house at the scanned door plate."""
    address = ownership.address_by_token(token)
    existing = db.session.execute(select(House).where(House.address_id == address.id)).scalar()
    context = {"address": address, "existing": existing,
               "claiming": existing is not None and not claims.may_update_house(user.id, existing)}
    if request.method == "GET":
        values = {"rental_type": "whole", "rooms": "1", "owner-document_type": "resident_id"}
        return render_template("h5/house_form.html", values=values, errors={}, **context)
    check_csrf()
    try:
        form = nest(request.form)
        form["qr_token"] = token
        form["is_rental"] = request.form.get("is_rental", "1") == "1"
        if not (form.get("agent") or {}).get("name"):
            form.pop("agent", None)
        data = load_all(HouseInSchema(), form)
        result = svc.register_house(
            _submitter(user, "landlord"), address, owner=data["owner"],
            agent=data.get("agent"), rental_type=data["rental_type"], rooms=data["rooms"],
            area_m2=data.get("area_m2"), monthly_rent=data.get("monthly_rent"),
            is_rental=data["is_rental"], idempotency_key=request.form.get("idempotency_key"))
        db.session.commit()
    except REFUSED as exc:
        return _refused("h5/house_form.html", exc, **context)
    if isinstance(result, OwnershipClaim):
        return _claim_receipt(result)
    return redirect(url_for("h5.pledge", house_id=result.house_id))


@bp.get("/h5/claims/<int:claim_id>")
@user_required
def claim(user, claim_id: int):
    """My ownership claim: what happens next, and the officer's decision once made."""
    mine = claims.my_claim(user, claim_id)
    address = None
    if mine.subject_type == "house" and mine.status == "approved":
        address = db.session.get(House, mine.subject_id).address
    submitted_at = local_datetime(mine.created_at)
    return render_template("h5/claim.html", claim=mine, address=address,
                           message=claims.receipt_message(mine), submitted_at=submitted_at,
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
    context = {"house": house}
    if request.method == "GET":
        return render_template("h5/agent.html", values={"agent-document_type": "resident_id"},
                               errors={}, **context)
    check_csrf()
    submitter = _submitter(user, "landlord")
    try:
        if request.form.get("action") == "remove":
            svc.remove_agent(submitter, house)
        else:
            data = load_all(AgentInSchema(), nest(request.form))
            svc.set_agent(submitter, house, data["agent"])
        db.session.commit()
    except REFUSED as exc:
        return _refused("h5/agent.html", exc, **context)
    return redirect(url_for("h5.house", house_id=house.id, agent=1))


@bp.route("/h5/houses/<int:house_id>/pledge", methods=["GET", "POST"])
@user_required
def pledge(user, house_id: int):
    """Read and sign the current 治安责任保证书."""
    house = ownership.my_house(user, house_id)
    pledge_text = current_pledge()
    db.session.commit()  # the shipped default text may have just been created: keep it
    context = {"house": house, "pledge": pledge_text}
    if request.method == "GET":
        return render_template("h5/pledge.html", values={}, errors={}, **context)
    check_csrf()
    try:
        data = PledgeInSchema().load({"signer_name": request.form.get("signer_name", ""),
                                      "agree": request.form.get("agree") == "1"})
        if not data["agree"]:
            raise RuleError("agree", "请阅读并勾选同意保证书")
        svc.sign_pledge(house, signer_name=data["signer_name"], ip=request.remote_addr)
        db.session.commit()
    except REFUSED as exc:
        return _refused("h5/pledge.html", exc, **context)
    return redirect(url_for("h5.house", house_id=house.id, signed=1))


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
    declarations = db.session.execute(
        select(Declaration).where(Declaration.house_id == house.id)
        .order_by(Declaration.id.desc()).limit(20)).scalars().all()
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
        svc.set_vacancy(house, vacant)
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
    who = svc.Submitter("landlord", user.id, channel="wechat_h5", ip=request.remote_addr)
    try:
        if request.form.get("action") == "deny":
            svc.deny_self_declaration(declaration, who, request.form.get("reason", ""))
        else:
            svc.confirm_declaration(declaration, who)
        db.session.commit()
    except REFUSED as exc:
        return _refused("h5/self_answer.html", exc, **context)
    return redirect(url_for("h5.answer_self_declaration", house_id=house_id,
                            declaration_id=declaration_id))


@bp.route("/h5/houses/<int:house_id>/move-in", methods=["GET", "POST"])
@user_required
def move_in(user, house_id: int):
    """Declare tenants moving in: several people in one submission."""
    house = ownership.my_house(user, house_id)
    rows = _rows()
    context = {"house": house, "rows": rows, "today": local_today().isoformat()}
    if request.method == "GET" or request.form.get("add_row"):
        values = request.form.to_dict() if request.method == "POST" else {}
        if request.form.get("add_row"):
            rows = context["rows"] = min(MAX_ROWS, rows + 1)
        for i in range(rows):
            values.setdefault(f"tenants-{i}-document_type", "resident_id")
            values.setdefault(f"tenants-{i}-start_date", context["today"])
        return render_template("h5/move_in.html", values=values, errors={}, **context)
    check_csrf()
    try:
        data = load_all(MoveInSchema(), nest(request.form))
        declaration = svc.declare_move_in(_submitter(user, "landlord"), house, data["tenants"],
                                          idempotency_key=request.form.get("idempotency_key"))
        db.session.commit()
    except REFUSED as exc:
        return _refused("h5/move_in.html", exc, **context)
    return _receipt(declaration)


@bp.route("/h5/houses/<int:house_id>/move-out", methods=["GET", "POST"])
@user_required
def move_out(user, house_id: int):
    """Declare tenants moving out."""
    house = ownership.my_house(user, house_id)
    context = {"house": house, "tenants": ownership.live_residences(house),
               "today": local_today().isoformat()}
    if request.method == "GET":
        return render_template("h5/move_out.html", values={"end_date": context["today"]},
                               errors={}, chosen=set(), **context)
    check_csrf()
    chosen = request.form.getlist("residence_ids")
    try:
        data = MoveOutSchema().load({"residence_ids": chosen,
                                     "end_date": request.form.get("end_date", "")})
        declaration = svc.declare_move_out(_submitter(user, "landlord"), house,
                                           data["residence_ids"], data["end_date"],
                                           idempotency_key=request.form.get("idempotency_key"))
        db.session.commit()
    except REFUSED as exc:
        db.session.rollback()
        return render_template("h5/move_out.html", values=request.form.to_dict(),
                               errors=errors_of(exc), chosen=set(chosen), **context), 400
    return _receipt(declaration)


@bp.post("/h5/houses/<int:house_id>/confirm")
@user_required
def confirm_unchanged(user, house_id: int):
    """One tap: my tenants are unchanged (sets the house's last confirmation)."""
    check_csrf()
    house = ownership.my_house(user, house_id)
    svc.confirm_tenants_unchanged(house)
    db.session.commit()
    return redirect(url_for("h5.house", house_id=house.id, confirmed=1))


@bp.get("/h5/houses/<int:house_id>/confirm")
@user_required
def confirm_page(user, house_id: int):
    """The page a monthly reminder links to: confirm in one tap."""
    house = ownership.my_house(user, house_id)
    return render_template("h5/confirm.html", house=house,
                           tenants=ownership.live_residences(house))


# -- declarations: list, detail, correction -------------------------------------------------------

@bp.get("/h5/declarations")
@user_required
def declarations(user):
    """Every declaration I submitted with its status."""
    rows = db.session.execute(
        select(Declaration).where(Declaration.submitter_wechat_user_id == user.id)
        .order_by(Declaration.id.desc()).limit(100)).scalars().all()
    return render_template("h5/declarations.html", declarations=rows)


@bp.route("/h5/declarations/<int:declaration_id>", methods=["GET", "POST"])
@user_required
def declaration(user, declaration_id: int):
    """A declaration's status, public reasons and receipt; a rejected or flagged one (and any
    move-in or self-declaration) can be corrected here."""
    declaration = ownership.my_declaration(user, declaration_id)
    residences = db.session.execute(select(Residence).where(
        Residence.declaration_id == declaration.id)).scalars().all()
    employments = db.session.execute(select(Employment).where(
        Employment.declaration_id == declaration.id)).scalars().all()
    context = {"declaration": declaration, "reasons": public_reasons(declaration),
               "residences": residences, "employments": employments,
               "correctable": corrections.correctable(declaration),
               "new": request.args.get("new") == "1"}
    if request.method == "GET":
        return render_template("h5/declaration.html", values={}, errors={}, **context)
    check_csrf()
    try:
        data = load_all(CorrectionSchema(), nest(request.form))
        token = data.pop("dormitory_qr_token", None)
        if token:
            data["dormitory_address_id"] = ownership.address_by_token(
                token, field="dormitory_qr_token").id
        correction = corrections.correct(
            _submitter(user, declaration.submitter_role), declaration, data,
            idempotency_key=request.form.get("idempotency_key"))
        db.session.commit()
    except REFUSED as exc:
        return _refused("h5/declaration.html", exc, **context)
    return _receipt(correction)


# -- tenants ----------------------------------------------------------------------------------------

@bp.route("/h5/a/<token>/self", methods=["GET", "POST"])
@user_required
def self_declare(user, token: str):
    """A tenant declares themself at the scanned address; the landlord confirms."""
    address = ownership.address_by_token(token)
    context = {"address": address, "today": local_today().isoformat()}
    if request.method == "GET":
        values = {"me-document_type": "resident_id", "me-start_date": context["today"]}
        return render_template("h5/self.html", values=values, errors={}, **context)
    check_csrf()
    try:
        form = nest(request.form)
        form["qr_token"] = token
        data = load_all(SelfDeclarationSchema(), form)
        house = ownership.house_at_token(token, field="_schema")
        declaration = svc.declare_self(_submitter(user, "tenant"), house, data["me"],
                                       idempotency_key=request.form.get("idempotency_key"))
        db.session.commit()
    except REFUSED as exc:
        return _refused("h5/self.html", exc, **context)
    return _receipt(declaration)


@bp.route("/h5/self", methods=["GET", "POST"])
@user_required
def self_declare_typed(user):
    """A tenant without a door plate to scan: choose the community, type the address, pick one
    of the candidates offered, or send it as typed to the community's officer."""
    values = request.form.to_dict() if request.method == "POST" else {
        "me-document_type": "resident_id", "me-start_date": local_today().isoformat()}
    context = {"communities": typed_address.communities(values.get("community_q"),
                                                        limit=H5_COMMUNITIES),
               "today": local_today().isoformat(), "candidates": None}
    if request.method == "GET":
        return render_template("h5/self_typed.html", values=values, errors={}, **context)
    check_csrf()
    try:
        if request.form.get("find") or request.form.get("filter"):
            if request.form.get("find"):  # show the candidates; the typed person stays
                context["candidates"] = typed_address.candidates(
                    values.get("address_text"), values.get("community_id"),
                    field="address_text")
            return render_template("h5/self_typed.html", values=values, errors={}, **context)
        form = nest(request.form)
        data = SelfDeclarationSchema().load({k: form[k] for k in (
            "me", "community_id", "address_text", "address_id") if k in form})
        declaration = typed_address.declare_self_typed(
            _submitter(user, "tenant"), data["me"], community_id=data.get("community_id"),
            address_text=data.get("address_text"), address_id=data.get("address_id"),
            idempotency_key=request.form.get("idempotency_key"))
        db.session.commit()
    except REFUSED as exc:
        return _refused("h5/self_typed.html", exc, **context)
    return _receipt(declaration)


@bp.route("/h5/confirm/<code>", methods=["GET", "POST"])
@code_guess_limit
@user_required
def confirm(user, code: str):
    """Confirm a declaration the other party made (a tenant must first pass the real-name check)."""
    declaration = svc.find_by_receipt_code(code)
    if declaration is None:
        raise ownership.NotYours()
    from app.h5.receipt import _masked_address, _masked_people

    payload = declaration.payload or {}
    context = {"declaration": declaration, "code": code, "linked": bool(user.person_id),
               "real_name_url": url_for("h5.real_name", next=url_for("h5.confirm", code=code)),
               "address": _masked_address(payload.get("address")),
               "people": _masked_people(payload)}
    if request.method == "GET":
        return render_template("h5/confirm_declaration.html", values={}, errors={}, done=False,
                               **context)
    check_csrf()
    try:
        found, role = ownership.confirmable(user, code)
        svc.confirm_declaration(found, svc.Submitter(role, user.id, channel="wechat_h5"))
        db.session.commit()
    except ownership.NeedsRealName:
        db.session.rollback()
        return redirect(context["real_name_url"])
    except REFUSED as exc:
        return _refused("h5/confirm_declaration.html", exc, done=False, **context)
    return render_template("h5/confirm_declaration.html", values={}, errors={}, done=True,
                           **context)


@bp.get("/h5/me")
@user_required
def me(user):
    """A tenant's registrations and when a 居住证 can be applied for (only once proven)."""
    rows = ownership.my_residences(user)
    items = [{"residence": r, "address": db.session.get(House, r.house_id).address.full_text,
              "permit_from": svc.residence_permit_date(r.start_date)} for r in rows]
    link_code = None if user.person_id else linking.link_code_for(user)
    db.session.commit()
    return render_template("h5/me.html", items=items, today=local_today(), user=user,
                           link_code=link_code)


REAL_NAME_SESSION = "real_name_claim"


def _real_name_check() -> linking.RealNameCheck:
    return current_app.extensions["anju_real_name_check"]


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/h5/") and "//" not in target and "\\" not in target:
        return target
    return url_for("h5.me")


@bp.route("/h5/me/real-name", methods=["GET", "POST"])
@user_required
def real_name(user):
    """实名核验: prove who I am, so I can see my own registrations and confirm declarations."""
    context = {"next": _safe_next(request.values.get("next")), "linked": bool(user.person_id),
               "check": _real_name_check()}
    if request.method == "GET":
        return render_template("h5/real_name.html", values={}, errors={}, **context)
    check_csrf()
    try:
        claim = linking.make_claim(request.form.get("name", ""),
                                   request.form.get("document_type") or "resident_id",
                                   request.form.get("document_number", ""))
        started = linking.begin_real_name_check(_real_name_check(), user, claim,
                                                url_for("h5.real_name_done"))
    except REFUSED as exc:
        return _refused("h5/real_name.html", exc, **context)
    # The claim waits in the signed session, its number encrypted, until the check comes back.
    session[REAL_NAME_SESSION] = {"ticket": started.ticket, "name": claim.name,
                                  "document_type": claim.document_type,
                                  "document_enc": crypto.encrypt(claim.document_number),
                                  "next": context["next"]}
    return redirect(started.url)


@bp.get("/h5/me/real-name/done")
@user_required
def real_name_done(user):
    """Back from the real-name check: link me to my person if it says so."""
    pending = session.get(REAL_NAME_SESSION) or {}
    context = {"next": _safe_next(pending.get("next")), "linked": bool(user.person_id),
               "check": _real_name_check()}
    try:
        if not pending or pending.get("ticket") != request.args.get("ticket"):
            raise RuleError("_schema", "实名核验已过期，请重新发起")
        claim = linking.RealNameClaim(pending["name"], pending["document_type"],
                                      crypto.decrypt(pending["document_enc"]))
        linking.complete_real_name_check(_real_name_check(), user, claim, pending["ticket"])
        db.session.commit()
    except REFUSED as exc:
        db.session.rollback()
        session.pop(REAL_NAME_SESSION, None)
        return render_template("h5/real_name.html", values={}, errors=errors_of(exc),
                               **context), 400
    session.pop(REAL_NAME_SESSION, None)
    return redirect(context["next"])


# -- employers ----------------------------------------------------------------------------------------

@bp.route("/h5/a/<token>/employer", methods=["GET", "POST"])
@user_required
def register_employer(user, token: str):
    """Register the employer (统一社会信用代码) at the scanned address."""
    address = ownership.address_by_token(token)
    context = {"address": address}
    if request.method == "GET":
        return render_template("h5/employer_form.html", values={}, errors={}, **context)
    check_csrf()
    try:
        form = nest(request.form)
        form["qr_token"] = token
        data = load_all(EmployerInSchema(), form)
        result = svc.register_employer(
            _submitter(user, "employer"), name=data["name"], uscc=data["uscc"], address=address,
            contact_name=data["contact_name"], contact_phone=data["contact_phone"],
            idempotency_key=request.form.get("idempotency_key"))
        db.session.commit()
    except REFUSED as exc:
        return _refused("h5/employer_form.html", exc, **context)
    if isinstance(result, OwnershipClaim):
        return _claim_receipt(result)
    return redirect(url_for("h5.employer", employer_id=result.employer_id))


@bp.route("/h5/employers/<int:employer_id>", methods=["GET", "POST"])
@user_required
def employer(user, employer_id: int):
    """My employer: current workers, declare hires (with dormitory) and leavers."""
    employer = ownership.my_employer(user, employer_id)
    workers = db.session.execute(select(Employment).where(
        Employment.employer_id == employer.id, Employment.active_slot.is_not(None))
        .order_by(Employment.id)).scalars().all()
    rows = _rows()
    context = {"employer": employer, "workers": workers, "rows": rows,
               "today": local_today().isoformat(),
               "communities": typed_address.communities(limit=H5_COMMUNITIES)}
    values = {f"workers-{i}-document_type": "resident_id" for i in range(rows)}
    values.update({f"workers-{i}-start_date": context["today"] for i in range(rows)})
    if request.method == "GET":
        return render_template("h5/employer.html", values=values, errors={}, **context)
    check_csrf()
    try:
        if request.form.get("action") == "leave":
            data = LeaveSchema().load({"employment_ids": request.form.getlist("employment_ids"),
                                       "end_date": request.form.get("end_date", "")})
            declaration = svc.declare_leave(_submitter(user, "employer"), employer,
                                            data["employment_ids"], data["end_date"])
        else:
            data = load_all(HireSchema(), nest(request.form))
            for i, worker in enumerate(data["workers"]):
                token = worker.pop("dormitory_qr_token", None)
                if token:
                    worker["dormitory_address_id"] = ownership.address_by_token(
                        token, field=f"workers.{i}.dormitory_qr_token").id
                else:
                    typed_address.dormitory(worker, i)
            declaration = svc.declare_hire(_submitter(user, "employer"), employer,
                                           data["workers"],
                                           idempotency_key=request.form.get("idempotency_key"))
        db.session.commit()
    except REFUSED as exc:
        return _refused("h5/employer.html", exc, **context)
    return _receipt(declaration)
