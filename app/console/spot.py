"""Console spot checks (抽查) on a phone: find the house by its door-plate token, record who is
on site, see at once who was registered; station admins draw seeded plans. Each form carries an
idempotency key made when it is opened, so a resend (field.js offline queue) lands once."""
from __future__ import annotations

import secrets

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from app.console import bp, idempotent
from app.console.auth import client_ip, current_officer, roles_required
from app.console.idempotent import CsrfForm
from app.extensions import db
from app.models import House, SpotCheck, SpotCheckPlanItem
from app.identity import DOCUMENT_TYPE_LABELS
from app.services.errors import RuleError
from app.services.police import spot_checks
from app.services.accounts.scoping import scoped_get, scoped_ids

ROWS = 5


def _house_for(officer, token: str) -> House | None:
    house = spot_checks.house_by_token(token)
    if house is None or not scoped_ids(House, [house.id], officer):
        return None
    return house


@bp.get("/spot-checks")
@login_required
def spot_checks_home():
    """My spot-check tasks, a door-plate token box, and the latest checks in my area."""
    officer = current_officer()
    token = request.args.get("token", "").strip()
    if token:
        house = _house_for(officer, token)
        if house is not None:
            return redirect(url_for("console.spot_check_new", house_id=house.id))
        flash("未找到该门牌码对应的房屋，或不在您的辖区", "danger")
    return render_template("console/spot_checks.html", items=spot_checks.plan_items_for(officer),
                           recent=spot_checks.recent_checks(officer, limit=20))


def _render_new(house, item=None, error=None, status=200, values=None):
    return render_template("console/spot_check_new.html", house=house, item=item,
                           form=CsrfForm(), error=error, rows=ROWS,
                           key=(values or {}).get("idempotency_key") or secrets.token_hex(16),
                           values=values or {}, doc_types=DOCUMENT_TYPE_LABELS), status


@bp.get("/spot-checks/new")
@login_required
def spot_check_new():
    """The on-site form for one house (?house_id= or ?item= of my plan)."""
    officer = current_officer()
    item = None
    if request.args.get("item"):
        item = _my_item(officer, request.args["item"])
        house = db.session.get(House, item.house_id)
    else:
        house = scoped_get(House, request.args.get("house_id"), officer)
    return _render_new(house, item)


def _my_item(officer, item_id):
    item = scoped_get(SpotCheckPlanItem, item_id, officer)
    if item.officer_id != officer.id:
        abort(404)
    return item


def _found_rows(form) -> list[dict]:
    names, numbers = form.getlist("name"), form.getlist("document_number")
    types, rooms = form.getlist("document_type"), form.getlist("room")
    rows = []
    for i, name in enumerate(names[:30]):
        number = numbers[i] if i < len(numbers) else ""
        if not (name.strip() or number.strip()):
            continue
        rows.append({"name": name.strip()[:64], "document_number": number.strip()[:32],
                     "document_type": (types[i] if i < len(types) else "") or "resident_id",
                     "room": (rooms[i] if i < len(rooms) else "").strip()[:32] or None})
    return rows


def _coord(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if -180 <= number <= 180 else None


def _posted_target(officer, form) -> tuple[House, SpotCheckPlanItem | None]:
    item = _my_item(officer, form["item_id"]) if form.get("item_id") else None
    house = (db.session.get(House, item.house_id) if item is not None
             else scoped_get(House, form.get("house_id"), officer))
    return house, item


def _found(form) -> dict:
    """The phone form as record_spot_check's persons and details."""
    return {"found": _found_rows(form), "lat": _coord(form.get("lat")),
            "lng": _coord(form.get("lng")),
            "note": (form.get("note") or "").strip()[:500] or None}


@bp.post("/spot-checks")
@login_required
def spot_check_record():
    """Record a spot check from the phone form (a resend with the same key lands once)."""
    officer, form = current_officer(), request.form
    house, item = _posted_target(officer, form)
    if problem := idempotent.form_problem(form):
        return _render_new(house, item, problem, 400, form)
    try:
        if location := idempotent.stored_location(officer, form):
            return redirect(location)
        check = spot_checks.record_audited(officer, house, channel="console", ip=client_ip(),
                                           plan_item=item, **_found(form))
    except RuleError as exc:
        db.session.rollback()
        return _render_new(house, item, exc.message, 409 if exc.field == "status" else 400, form)
    return idempotent.answered(officer, form, url_for("console.spot_check", spot_check_id=check.id))


@bp.get("/spot-checks/<int:spot_check_id>")
@login_required
def spot_check(spot_check_id: int):
    """One spot check: each person found and whether registered before the check."""
    check = scoped_get(SpotCheck, spot_check_id, current_officer())
    return render_template("console/spot_check.html", check=check,
                           house=db.session.get(House, check.house_id))


@bp.route("/spot-check-plans", methods=["GET", "POST"])
@login_required
@roles_required("station_admin")
def spot_check_plans():
    """Draw a plan: N random rental houses of the station or one police area, by seed."""
    admin, form = current_officer(), CsrfForm()
    areas, officers = spot_checks.plan_choices(admin)
    plan, error = None, None
    if request.method == "POST" and form.validate_on_submit():
        try:
            plan = spot_checks.create_plan_audited(admin, channel="console", ip=client_ip(),
                                                   **_plan_form(areas, officers))
            db.session.commit()
        except RuleError as exc:
            db.session.rollback()
            error = exc.message
    return render_template("console/spot_check_plans.html", form=form, areas=areas,
                           officers=officers, plan=plan, error=error), 400 if error else 200


def _plan_form(areas, officers) -> dict:
    """The plan form as create_plan's keywords; RuleError for an area or seed that will not do."""
    area = request.form.get("police_area_id") or None
    seed = request.form.get("seed", "").strip()
    if area is not None and area not in {str(a.id) for a in areas}:
        raise RuleError("police_area_id", "请选择本所的警务区")
    if seed and not seed.isdigit():
        raise RuleError("seed", "随机种子应为非负整数")
    size = request.form.get("size", "")
    return {"size": int(size) if size.isdigit() and len(size) < 5 else 0,
            "officers": [o for o in officers if str(o.id) in request.form.getlist("officer_ids")],
            "police_area_id": int(area) if area else None,
            "seed": int(seed[:18]) if seed else None}
