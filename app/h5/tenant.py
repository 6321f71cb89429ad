"""H5 pages for tenants: declare myself (by door plate or typed address), confirm a landlord's
declaration, my registrations, and the real-name check (实名核验) that links me to my person."""
from __future__ import annotations

from flask import current_app, redirect, render_template, request, session, url_for

from app import crypto
from app.extensions import db
from app.formatting import local_today
from app.h5 import bp, code_guess_limit
from app.h5.declare import (
    H5_COMMUNITIES, REFUSED, form_with_token, idempotency_key, receipt, refused, submitter,
)
from app.h5.forms import check_csrf, load_all, nest
from app.h5.identity import user_required
from app.h5.receipt import _masked_address, _masked_people
from app.schemas.declarations import SelfDeclarationSchema, typed_address_fields
from app.services.declarations import declare
from app.services.declarations import self_declare as self_service
from app.services.declarations import ownership
from app.services.people import linking
from app.services.registry import typed_address
from app.services.errors import RuleError

REAL_NAME_SESSION = "real_name_claim"
TYPED_FIELDS = ("me", "community_id", "address_text", "address_id")


@bp.route("/h5/a/<token>/self", methods=["GET", "POST"])
@user_required
def self_declare(user, token: str):
    """A tenant declares themself at the scanned address; the landlord confirms."""
    context = {"address": ownership.address_by_token(token), "today": local_today().isoformat()}
    if request.method == "GET":
        values = {"me-document_type": "resident_id", "me-start_date": context["today"]}
        return render_template("h5/self.html", values=values, errors={}, **context)
    check_csrf()
    try:
        data = load_all(SelfDeclarationSchema(), form_with_token(token))
        house = ownership.house_at_token(token, field="_schema")
        declaration = self_service.declare_self(submitter(user, "tenant"), house, data["me"],
                                                idempotency_key=idempotency_key())
        db.session.commit()
    except REFUSED as exc:
        return refused("h5/self.html", exc, **context)
    return receipt(declaration)


@bp.route("/h5/self", methods=["GET", "POST"])
@user_required
def self_declare_typed(user):
    """A tenant without a door plate to scan: choose the community, type the address, pick one
    of the candidates offered, or send it as typed to the community's officer."""
    values, context = _typed_page()
    if request.method == "GET":
        return render_template("h5/self_typed.html", values=values, errors={}, **context)
    check_csrf()
    try:
        if request.form.get("find") or request.form.get("filter"):
            return _typed_candidates(values, context)
        data = _typed_form()
        declaration = typed_address.declare_self_typed(
            submitter(user, "tenant"), data["me"], **typed_address_fields(data),
            idempotency_key=idempotency_key())
        db.session.commit()
    except REFUSED as exc:
        return refused("h5/self_typed.html", exc, **context)
    return receipt(declaration)


def _typed_page() -> tuple[dict, dict]:
    values = request.form.to_dict() if request.method == "POST" else {
        "me-document_type": "resident_id", "me-start_date": local_today().isoformat()}
    return values, {"communities": typed_address.communities(values.get("community_q"),
                                                             limit=H5_COMMUNITIES),
                    "today": local_today().isoformat(), "candidates": None}


def _typed_form() -> dict:
    form = nest(request.form)
    return SelfDeclarationSchema().load({k: form[k] for k in TYPED_FIELDS if k in form})


def _typed_candidates(values: dict, context: dict):
    """The page again with the candidates for the typed address; the typed person stays."""
    if request.form.get("find"):
        context["candidates"] = typed_address.candidates(
            values.get("address_text"), values.get("community_id"), field="address_text")
    return render_template("h5/self_typed.html", values=values, errors={}, **context)


@bp.route("/h5/confirm/<code>", methods=["GET", "POST"])
@code_guess_limit
@user_required
def confirm(user, code: str):
    """Confirm a declaration the other party made (a tenant must first pass the real-name check)."""
    context = _confirm_context(user, ownership.declaration_by_code(code), code)
    if request.method == "GET":
        return _confirm_page(context, done=False)
    check_csrf()
    try:
        found, role = ownership.confirmable(user, code)
        self_service.confirm_declaration(found, declare.Submitter(role, user.id, channel="wechat_h5"))
        db.session.commit()
    except ownership.NeedsRealName:
        db.session.rollback()
        return redirect(context["real_name_url"])
    except REFUSED as exc:
        return refused("h5/confirm_declaration.html", exc, done=False, **context)
    return _confirm_page(context, done=True)


def _confirm_page(context: dict, done: bool):
    return render_template("h5/confirm_declaration.html", values={}, errors={}, done=done,
                           **context)


def _confirm_context(user, declaration, code: str) -> dict:
    payload = declaration.payload or {}
    return {"declaration": declaration, "code": code, "linked": bool(user.person_id),
            "real_name_url": url_for("h5.real_name", next=url_for("h5.confirm", code=code)),
            "address": _masked_address(payload.get("address")),
            "people": _masked_people(payload)}


@bp.get("/h5/me")
@user_required
def me(user):
    """A tenant's registrations and when a 居住证 can be applied for (only once proven)."""
    items = ownership.my_registrations(user)
    link_code = None if user.person_id else linking.link_code_for(user)
    db.session.commit()
    return render_template("h5/me.html", items=items, today=local_today(), user=user,
                           link_code=link_code)


def _real_name_check() -> linking.RealNameCheck:
    return current_app.extensions["anju_real_name_check"]


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/h5/") and "//" not in target and "\\" not in target:
        return target
    return url_for("h5.me")


def _real_name_context(user, next_url: str | None) -> dict:
    return {"next": _safe_next(next_url), "linked": bool(user.person_id),
            "check": _real_name_check()}


@bp.route("/h5/me/real-name", methods=["GET", "POST"])
@user_required
def real_name(user):
    """实名核验: prove who I am, so I can see my own registrations and confirm declarations."""
    context = _real_name_context(user, request.values.get("next"))
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
        return refused("h5/real_name.html", exc, **context)
    _keep_claim(started.ticket, claim, context["next"])
    return redirect(started.url)


def _keep_claim(ticket: str, claim: linking.RealNameClaim, next_url: str) -> None:
    # The claim waits in the signed session, its number encrypted, until the check comes back.
    session[REAL_NAME_SESSION] = {"ticket": ticket, "name": claim.name,
                                  "document_type": claim.document_type,
                                  "document_enc": crypto.encrypt(claim.document_number),
                                  "next": next_url}


def _kept_claim(pending: dict, ticket: str | None) -> linking.RealNameClaim:
    if not pending or pending.get("ticket") != ticket:
        raise RuleError("_schema", "实名核验已过期，请重新发起")
    return linking.RealNameClaim(pending["name"], pending["document_type"],
                                 crypto.decrypt(pending["document_enc"]))


@bp.get("/h5/me/real-name/done")
@user_required
def real_name_done(user):
    """Back from the real-name check: link me to my person if it says so."""
    pending = session.pop(REAL_NAME_SESSION, None) or {}  # one use, whatever the outcome
    context = _real_name_context(user, pending.get("next"))
    try:
        claim = _kept_claim(pending, request.args.get("ticket"))
        linking.complete_real_name_check(_real_name_check(), user, claim, pending["ticket"])
        db.session.commit()
    except REFUSED as exc:
        return refused("h5/real_name.html", exc, **context)
    return redirect(context["next"])
