"""Console field collection (警务通采集) on a phone: register a house and/or its residents for a
landlord who cannot, with the landlord's signature drawn on the screen (signature.js). The form
carries an idempotency key made when it is opened, like the spot-check form."""
from __future__ import annotations

import secrets
from datetime import date

from flask import abort, redirect, render_template, request, url_for
from flask_login import login_required

from app.console import bp, idempotent
from app.console.auth import client_ip, current_officer
from app.console.idempotent import CsrfForm
from app.console.spot import _coord
from app.extensions import db
from app.models import Address
from app.models.house import RENTAL_TYPE_LABELS
from app.identity import DOCUMENT_TYPE_LABELS
from app.services.declarations import ownership
from app.services.errors import RuleError
from app.services.police import field_collection
from app.services.police import tasks as task_service
from app.storage import evidence_dir

ROWS = 3
_DATA_URL = "data:image/png;base64,"


def _address(officer, token: str) -> Address:
    found = field_collection.scoped_address(officer, token)
    if found is None:
        abort(404)
    return found


def _render(address, error=None, status=200, values=None):
    house = ownership.house_at_address(address)
    return render_template(
        "console/field_collect.html", address=address, house=house, form=CsrfForm(),
        error=error, rows=ROWS, values=values or {}, doc_types=DOCUMENT_TYPE_LABELS,
        rental_types=RENTAL_TYPE_LABELS,
        key=(values or {}).get("idempotency_key") or secrets.token_hex(16)), status


@bp.get("/field-collect")
@login_required
def field_collect_start():
    """Find the address by its door-plate token (?token=), then show the collection form."""
    token = request.args.get("token", "").strip()
    if not token:
        return render_template("console/field_collect_start.html")
    return _render(_address(current_officer(), token))


def _tenants(form) -> list[dict]:
    out = []
    names, numbers = form.getlist("t_name"), form.getlist("t_document_number")
    types, rooms, starts = (form.getlist("t_document_type"), form.getlist("t_room"),
                            form.getlist("t_start_date"))
    for i, name in enumerate(names[:30]):
        number = numbers[i] if i < len(numbers) else ""
        if not (name.strip() or number.strip()):
            continue
        try:
            start = date.fromisoformat(starts[i]) if i < len(starts) and starts[i] else None
        except ValueError:
            raise RuleError(f"tenants.{i}.start_date", "入住日期格式不正确") from None
        out.append({"name": name.strip()[:64], "document_number": number.strip()[:32],
                    "document_type": (types[i] if i < len(types) else "") or "resident_id",
                    "room": (rooms[i] if i < len(rooms) else "").strip()[:32] or None,
                    "start_date": start})
    return out


def _owner(form) -> dict | None:
    if not (form.get("o_name", "").strip() or form.get("o_document_number", "").strip()):
        return None
    return {"name": form.get("o_name", "").strip()[:64],
            "document_type": form.get("o_document_type") or "resident_id",
            "document_number": form.get("o_document_number", "").strip()[:32],
            "phone": form.get("o_phone", "").strip()[:20] or None}


def _collected(form) -> dict:
    """The collection form as field_collection.collect's keywords."""
    signature_text = form.get("signature_png", "")
    if not signature_text.startswith(_DATA_URL):
        raise RuleError("signature", "请让房东在屏幕上签名")
    rooms = form.get("rooms", "")
    return {"signer_name": form.get("signer_name", "").strip()[:64],
            "signature": task_service.decode_base64(
                signature_text[len(_DATA_URL):], "signature", "签名图片不正确，请重新签名"),
            "evidence_dir": evidence_dir(), "owner": _owner(form),
            "rental_type": form.get("rental_type") or None,
            "rooms": int(rooms) if rooms.isdigit() and len(rooms) < 4 else None,
            "tenants": _tenants(form), "lat": _coord(form.get("lat")),
            "lng": _coord(form.get("lng"))}


@bp.post("/field-collect")
@login_required
def field_collect():
    """Save a field collection (a resend with the same key lands once)."""
    officer, form = current_officer(), request.form
    address = _address(officer, form.get("qr_token", ""))
    if problem := idempotent.form_problem(form):
        return _render(address, problem, 400, form)
    try:
        if location := idempotent.stored_location(officer, form):
            return redirect(location)
        result = field_collection.collect_recorded(
            officer, address, ip=client_ip(), detail={"channel": "console"}, **_collected(form))
    except RuleError as exc:
        db.session.rollback()
        return _render(address, exc.message, 400, form)
    return idempotent.answered(officer, form, url_for("console.house", house_id=result.house.id),
                               f"已现场采集 {len(result.declarations)} 份申报，待系统核验")
