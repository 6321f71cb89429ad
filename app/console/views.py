"""Console home and the review queue: list, detail, decisions, address choice, bulk approve."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import func, select

from app import crypto
from app.console import bp
from app.console.auth import client_ip, current_officer
from app.console.facts import build_facts
from app.console.forms import (
    BulkApproveForm, ChooseAddressForm, DecisionForm, LogoutForm, RevealForm, SearchForm,
)
from app.db_read import mark_written, read_session
from app.extensions import db
from app.models import Address, Declaration, House, Officer, Person
from app.models.declaration import KIND_LABELS, STATUS_LABELS
from app.models.officer import ROLE_LABELS
from app.services.accounts import audit, scoping
from app.services.declarations import queue, review
from app.wording import CHANNEL_LABELS, reason_sentence
from app.wording import ROLE_LABELS as SUBMITTER_ROLES
from app.services.kpis import todo

# POSTs that write nothing an officer then expects to see: sign-in/out, and searches (POSTed
# only to keep the query out of the URL).
READS_BY_POST = ("console.login", "console.logout", "console.run_search", "console.export")
PENDING = ("needs_review", "verified")
SENSITIVE_KEYS = {"document_number": "document", "id_number": "document", "phone": "phone",
                  "mobile": "phone", "contact_phone": "phone"}


@bp.context_processor
def console_globals():
    """What every console page needs: labels, the officer and the sign-out form."""
    return {"STATUS_LABELS": STATUS_LABELS, "KIND_LABELS": KIND_LABELS,
            "ROLE_LABELS": ROLE_LABELS, "logout_form": LogoutForm(),
            "mask_name": crypto.mask_name, "ADMIN_ROLES": scoping.ADMIN_ROLES,
            # Menu entries for console pages other issues add appear once their views exist.
            "url_map_endpoints": current_app.view_functions,
            "BEIJING_OFFSET": timedelta(hours=8),
            "CHANNEL_LABELS": CHANNEL_LABELS, "ROLE_NAMES": SUBMITTER_ROLES}


@bp.after_request
def _read_own_writes(response):
    """After a console write, this officer's next pages read from the primary (replica lag)."""
    if (request.method == "POST" and response.status_code < 400
            and request.endpoint not in READS_BY_POST):
        mark_written()
    return response


@bp.get("/")
@login_required
def index():
    """Home: how many declarations wait in each status in the officer's area, the officer's
    own to-do counts and unread notices."""
    officer = current_officer()
    with read_session() as reader:  # a dashboard: counts over the area, from the replica
        counts = dict(reader.execute(scoping.scope_declarations(
            select(Declaration.status, func.count()).group_by(Declaration.status),
            officer)).all())
        late = reader.execute(scoping.scope_declarations(
            select(func.count()).select_from(Declaration).where(
                Declaration.is_late.is_(True), Declaration.status.in_(PENDING)), officer)).scalar()
    return render_template("console/index.html", counts=counts, late=late,
                           search_form=SearchForm(formdata=None), todo=todo.todo_counts(officer),
                           notices=todo.unread_notices(officer))


@bp.get("/declarations")
@login_required
def declarations():
    """The review queue in the officer's area, by status, kind, community, age and lateness;
    "下一页"/"上一页" carry a keyset cursor (app/services/declarations/queue.py)."""
    filters = queue.parse_filters(request.args)
    with read_session() as reader:  # heavy read: the replica, unless this officer just decided
        result = queue.queue_page(filters, current_officer(), session=reader)
        return render_template("console/declarations.html", q=result, rows=result.rows,
                               filters=filters, communities=result.communities,
                               any_verified=any(review.bulk_approvable(d) for d, _ in result.rows),
                               bulk_approvable=review.bulk_approvable, bulk_form=BulkApproveForm(),
                               age_choices=queue.AGE_CHOICES, sort_choices=queue.SORT_CHOICES)


def flatten_payload(value, prefix: str = "") -> list[tuple[str, str, object]]:
    """The payload as (path, key, value) rows, nested dicts and lists flattened in order."""
    rows = []
    if isinstance(value, dict):
        for key in value:
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value[key], (dict, list)):
                rows += flatten_payload(value[key], path)
            else:
                rows.append((path, str(key), value[key]))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            rows += flatten_payload(item, f"{prefix}.{i}" if prefix else str(i))
    return rows


def _plain(value) -> str:
    """A payload value as text; encrypted values ("kid:base64") are decrypted."""
    text = "" if value is None else str(value)
    if ":" in text and len(text) > 30:
        try:
            return crypto.decrypt(text)
        except Exception:  # noqa: BLE001 - not one of ours: show it as submitted
            return text
    return text


def _masked(key: str, value) -> str:
    kind = SENSITIVE_KEYS.get(key)
    text = _plain(value)
    if kind == "document" or key == "document_masked":
        # A masked snapshot is masked again: older ones kept birth digits of 15-character numbers.
        return crypto.mask_document(text)
    if kind == "phone":
        return crypto.mask_phone(text)
    if key == "name" and text:
        return crypto.mask_name(text)
    return text


ACTOR_LABELS = {"landlord": "房东", "tenant": "租客", "employer": "用工单位", "worker": "系统核验",
                "system": "系统", "officer": "民警", "import": "批量导入"}


def _actor_labels(declaration: Declaration) -> dict[str, str]:
    """Readable names for the history's actors ("officer:12" → "民警 王警官")."""
    officer_ids = {int(e.actor.split(":", 1)[1]) for e in declaration.events
                   if e.actor.startswith("officer:") and e.actor.split(":", 1)[1].isdigit()}
    names = dict(db.session.execute(select(Officer.id, Officer.name).where(
        Officer.id.in_(officer_ids))).all()) if officer_ids else {}
    labels = {}
    for e in declaration.events:
        kind, _, ident = e.actor.partition(":")
        if kind == "officer" and ident.isdigit() and int(ident) in names:
            labels[e.actor] = f"民警 {names[int(ident)]}"
        else:
            labels[e.actor] = ACTOR_LABELS.get(kind, e.actor)
    return labels


def _render_detail(declaration: Declaration, revealed: dict | None = None, status: int = 200,
                   decision_form=None, reveal_form=None, error: str | None = None):
    officer = current_officer()
    address = (db.session.get(Address, declaration.address_id)
               if declaration.address_id else None)
    candidate_ids = [c.get("address_id") for c in (declaration.candidates or [])
                     if isinstance(c, dict)]
    visible = set(scoping.scoped_ids(Address, candidate_ids, officer))
    candidates = [c for c in (declaration.candidates or [])
                  if isinstance(c, dict) and c.get("address_id") in visible]
    person_ids = [v for _, k, v in flatten_payload(declaration.payload or {})
                  if k == "person_id" and isinstance(v, int)]
    persons = {p.id: p for p in db.session.execute(scoping.scope_persons(
        select(Person).where(Person.id.in_(person_ids)), officer)).scalars()} if person_ids else {}
    dorm_ids = [v for _, k, v in flatten_payload(declaration.payload or {})
                if k == "dormitory_house_id" and isinstance(v, int)]
    dormitories = dict(db.session.execute(
        select(House.id, Address.full_text).join(Address, Address.id == House.address_id)
        .where(House.id.in_(dorm_ids))).all()) if dorm_ids else {}
    employer = declaration.employer
    workplace = employer.address.full_text if employer is not None and employer.address else None
    sections = build_facts(declaration, masked=_masked, sensitive=set(SENSITIVE_KEYS),
                           revealed=revealed, dormitories=dormitories, workplace=workplace)
    return render_template(
        "console/declaration.html", d=declaration, address=address, candidates=candidates,
        sections=sections, persons=persons, employer=employer,
        reasons=[reason_sentence(r.get("field"), r.get("message", "")) for r in
                 (declaration.reasons or []) if isinstance(r, dict)],
        decision_form=decision_form or DecisionForm(), choose_form=ChooseAddressForm(),
        reveal_form=reveal_form or RevealForm(), error=error,
        actor_labels=_actor_labels(declaration),
        can_decide=any(declaration.status in allowed for allowed in review.DECIDABLE.values()),
    ), status


@bp.get("/declarations/<int:declaration_id>")
@login_required
def declaration(declaration_id: int):
    """One declaration: payload (masked), validation reasons, address candidates, history."""
    return _render_detail(scoping.scoped_get(Declaration, declaration_id, current_officer()))


@bp.post("/declarations/<int:declaration_id>/decide")
@login_required
def decide(declaration_id: int):
    """Approve, flag for a field check, or reject with a reason; audited and pushed."""
    officer = current_officer()
    d = scoping.scoped_get(Declaration, declaration_id, officer, for_update=True)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _render_detail(d, status=400, decision_form=form)
    to_status = {"approve": "approved", "flag": "flagged", "reject": "rejected"}[form.action.data]
    try:
        review.decide(d, officer, to_status, form.reason.data, ip=client_ip())
    except review.ReviewError as exc:
        db.session.rollback()
        d = scoping.scoped_get(Declaration, declaration_id, officer)
        return _render_detail(d, status=400, decision_form=form, error=str(exc))
    db.session.commit()
    flash(f"申报 {d.receipt_code} 已{STATUS_LABELS[d.status].lstrip('已')}", "success")
    return redirect(url_for("console.declaration", declaration_id=d.id))


def _refused(exc: Exception, back: str):
    db.session.rollback()
    flash(str(exc), "danger")
    return redirect(back)


@bp.post("/declarations/<int:declaration_id>/address")
@login_required
def choose_address(declaration_id: int):
    """Fix the declaration's address to one of the scored candidates."""
    officer = current_officer()
    d = scoping.scoped_get(Declaration, declaration_id, officer, for_update=True)
    form = ChooseAddressForm()
    if not form.validate_on_submit():
        abort(400)
    back = url_for("console.declaration", declaration_id=declaration_id)
    try:
        review.choose_address(d, scoping.scoped_get(Address, form.address_id.data, officer),
                              officer, ip=client_ip())
    except review.ReviewError as exc:
        return _refused(exc, back)
    db.session.commit()
    flash("地址已确定", "success")
    # The chosen address may lie in another area: then the declaration leaves this queue.
    in_area = scoping.scoped_ids(Declaration, [d.id], officer)
    return redirect(back if in_area else url_for("console.declarations"))


@bp.post("/declarations/bulk-approve")
@login_required
def bulk_approve():
    """Approve every selected `verified` declaration without reasons in the area in one go."""
    form = BulkApproveForm()
    if not form.validate_on_submit():
        abort(400)
    ids = request.form.getlist("ids")[:500]
    approved = review.bulk_approve(ids, current_officer(), ip=client_ip())
    db.session.commit()
    skipped = len(ids) - len(approved)
    flash(f"已通过 {len(approved)} 条申报" + (f"，{skipped} 条需逐条审核，未处理"
                                         if skipped else ""), "success")
    return redirect(url_for("console.declarations", status="verified"))


@bp.post("/declarations/<int:declaration_id>/reveal")
@login_required
def reveal_payload(declaration_id: int):
    """Show one full number from the payload, after a reason, with an audit row."""
    officer = current_officer()
    d = scoping.scoped_get(Declaration, declaration_id, officer)
    form = RevealForm()
    if not form.validate_on_submit():
        return _render_detail(d, status=400, reveal_form=form)
    rows = {path: (key, value) for path, key, value in flatten_payload(d.payload or {})}
    if form.field.data not in rows or rows[form.field.data][0] not in SENSITIVE_KEYS:
        abort(404)
    audit.record(officer, "declaration.reveal", "declaration", d.id, reason=form.reason.data,
                 ip=client_ip(), detail={"field": form.field.data})
    db.session.commit()
    value = _plain(rows[form.field.data][1])
    return _render_detail(d, revealed={form.field.data: value})
