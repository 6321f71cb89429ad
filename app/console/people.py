"""Console search, persons and houses with their timelines, full-number reveal and export."""
from __future__ import annotations

import json
import secrets

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_login import login_required
from redis.exceptions import RedisError
from sqlalchemy import select

from app import crypto
from app.console import bp
from app.console.auth import client_ip, current_officer
from app.console.forms import ExportForm, LinkWeChatForm, RevealForm, SearchForm
from app.db_read import read_session
from app.extensions import db
from app.models import Declaration, House, Person
from app.models.house import RENTAL_TYPE_LABELS
from app.identity import DOCUMENT_TYPE_LABELS
from app.models.person import CHANGE_FIELD_LABELS
from app.redis_conn import get_redis
from app.services.accounts import scoping
from app.services.declarations import claims
from app.services.people import linking, people, search as search_service
from app.services.errors import RuleError
from app.services.police import penalties

DECLARED_BY_LABELS = {"landlord": "房东", "tenant": "租客本人", "employer": "用工单位",
                      "officer": "民警", "import": "批量导入"}
RESIDENCE_STATUS_LABELS = {"pending": "待确认", "active": "在住", "ended": "已离开"}
# A search is kept server-side under an opaque id, so the query (an ID number, a phone, a name)
# never travels in a URL, a Referer or an access log, and the result page can still be reloaded.
# It is kept encrypted with the field keys: Redis holds no identifying value in clear either.
SAVED_SEARCH_TTL = 1800


def _saved_search_key(officer_id: int, search_id: str) -> str:
    return f"console:search:{officer_id}:{search_id}"


def _save_search(officer_id: int, q: str, kind: str) -> str | None:
    search_id = secrets.token_urlsafe(12)
    try:
        get_redis().set(_saved_search_key(officer_id, search_id),
                        crypto.encrypt(json.dumps({"q": q, "kind": kind})), ex=SAVED_SEARCH_TTL)
    except RedisError:
        current_app.logger.warning("could not keep a console search; answering it directly")
        return None
    return search_id


def _load_search(officer_id: int, search_id: str) -> dict | None:
    if not search_id or len(search_id) > 32:
        return None
    try:
        raw = get_redis().get(_saved_search_key(officer_id, search_id))
    except RedisError:
        return None
    if not raw:
        return None
    try:
        return json.loads(crypto.decrypt(raw.decode()))
    except Exception:  # noqa: BLE001 - a retired key or a damaged value: ask for a new search
        return None


@bp.context_processor
def people_labels():
    """Labels used by the person and house pages."""
    return {"DECLARED_BY_LABELS": DECLARED_BY_LABELS, "DOCUMENT_TYPE_LABELS": DOCUMENT_TYPE_LABELS,
            "RESIDENCE_STATUS_LABELS": RESIDENCE_STATUS_LABELS,
            "RENTAL_TYPE_LABELS": RENTAL_TYPE_LABELS, "birth_year": birth_year}


def birth_year(born) -> str:
    """"1985年生": what a page may show of a birth date without a reveal."""
    return f"{born.year}年生" if born else ""


def _render_search(q: str = "", kind: str = "auto", form=None, expired: bool = False,
                   status: int = 200):
    with read_session() as reader:  # heavy read: the replica when there is one
        result = search_service.search(q, current_officer(), kind, session=reader)
        return render_template("console/search.html", q=q, kind=kind, result=result,
                               kinds=search_service.SEARCH_KINDS, expired=expired,
                               search_form=form or SearchForm(formdata=None),
                               export_form=ExportForm(formdata=None, q=q, kind=result.kind),
                               places=search_service.current_places(
                                   result.persons, current_officer(), session=reader)), status


@bp.get("/search")
@login_required
def search():
    """The search form, or the results of a search kept under an opaque id (`?s=`)."""
    search_id = request.args.get("s", "")
    saved = _load_search(current_officer().id, search_id) if search_id else None
    if saved is None:
        return _render_search(expired=bool(search_id))
    return _render_search(saved["q"], saved["kind"])


@bp.post("/search")
@login_required
def run_search():
    """Search the area by document number, name, phone, address text or receipt code."""
    form = SearchForm()
    if not form.validate_on_submit():
        return _render_search(form=form, status=400)
    q, kind = (form.q.data or "").strip()[:100], form.kind.data or "auto"
    search_id = _save_search(current_officer().id, q, kind)
    if search_id is None:
        return _render_search(q, kind, form=form)
    return redirect(url_for("console.search", s=search_id), code=303)


@bp.post("/search/export")
@login_required
def export():
    """CSV of a person search: masked for officers; full only for admins who give a reason."""
    form = ExportForm()
    if not form.validate_on_submit():
        abort(400)
    with read_session() as reader:  # the rows from the replica; the audit row on the primary
        body = search_service.export_search(
            current_officer(), form.q.data or "", form.kind.data or "auto",
            full=bool(form.full.data), reason=form.reason.data or "", ip=client_ip(),
            session=reader)
    db.session.commit()
    return Response(body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=persons.csv"})


def _render_person(person: Person, revealed: dict | None = None, status: int = 200,
                   reveal_form=None, link_form=None, link_error: str | None = None,
                   linked: bool = False):
    officer = current_officer()
    timeline = search_service.person_timeline(person, officer)
    declaration_ids = [r.declaration_id for r in timeline if r.declaration_id]
    receipts = dict(db.session.execute(scoping.scope_declarations(
        select(Declaration.id, Declaration.receipt_code).where(
            Declaration.id.in_(declaration_ids)), officer)).all()) if declaration_ids else {}
    return render_template("console/person.html", person=person, timeline=timeline,
                           receipts=receipts, revealed=revealed or {},
                           reveal_form=reveal_form or RevealForm(),
                           reveal_fields=people.REVEAL_FIELDS, history=people.history_of(person),
                           change_labels=CHANGE_FIELD_LABELS,
                           linked_users=linking.linked_users(person),
                           link_form=link_form or LinkWeChatForm(), link_error=link_error,
                           just_linked=linked,
                           landlord_record=penalties.landlord_record(person, officer)), status


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
    revealed = people.reveal(officer, p, form.field.data, form.reason.data, ip=client_ip())
    if revealed is None:
        abort(404)
    db.session.commit()
    return _render_person(p, revealed=revealed)


@bp.post("/persons/<int:person_id>/link")
@login_required
def link_wechat(person_id: int):
    """关联微信用户: after checking the person's document, link the WeChat user showing a code."""
    officer = current_officer()
    p = scoping.scoped_get(Person, person_id, officer)
    form = LinkWeChatForm()
    if not form.validate_on_submit():
        return _render_person(p, status=400, link_form=form)
    try:
        linking.officer_link(officer, p, form.code.data, form.reason.data, ip=client_ip())
    except RuleError as exc:
        db.session.rollback()
        return _render_person(p, status=400, link_form=form, link_error=exc.message)
    db.session.commit()
    return _render_person(p, linked=True)


@bp.get("/houses/<int:house_id>")
@login_required
def house(house_id: int):
    """A house and its timeline: who lived there and when."""
    officer = current_officer()
    h = scoping.scoped_get(House, house_id, officer)
    return render_template("console/house.html", house=h,
                           timeline=search_service.house_timeline(h),
                           pending_claims=claims.pending_count("house", h.id),
                           penalties=penalties.house_penalties(h, officer))
