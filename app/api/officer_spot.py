"""Officer API (警务通) spot checks (抽查) and plans, scoped like the console; writes are
idempotent (officer_auth)."""
from __future__ import annotations

from flask import abort, jsonify, request

from app.api import bp
from app.api.officer import _ip
from app.api.officer_auth import json_body, officer_required, officer_write
from app.extensions import db
from app.models import House, Officer, PoliceArea, SpotCheck, SpotCheckPlanItem
from app.schemas.spot_checks import (
    FieldCollectionInSchema, FieldCollectionOutSchema, PlanInSchema, PlanItemOutSchema, PlanOutSchema, SpotCheckInSchema, SpotCheckOutSchema,
    SpotHouseOutSchema,
)
from app.services.errors import RuleError
from app.services.police import field_collection, spot_checks
from app.services.police import tasks as police_tasks
from app.storage import evidence_dir
from app.services.accounts.scoping import scoped_get, scoped_ids


def scoped_house_by_token(token: str, officer: Officer) -> House:
    """The house behind a door-plate token if it lies in the officer's area, else 404."""
    house = spot_checks.house_by_token(token)
    if house is None or not scoped_ids(House, [house.id], officer):
        abort(404)
    return house


@bp.get("/officer/spot-checks/house")
@officer_required
def officer_spot_house(officer):
    """The house of my area behind a door-plate token (?token=…), before a spot check."""
    return jsonify(SpotHouseOutSchema().dump(
        scoped_house_by_token(request.args.get("token", ""), officer)))


@bp.post("/officer/spot-checks")
@officer_write
def officer_record_spot_check(officer):
    """Record a spot check: each person found is checked against the registrations before now;
    an unregistered one is collected on site as a move-in and recorded as a 漏登."""
    data = SpotCheckInSchema().load(json_body())
    house, item = _target(officer, data)
    check = spot_checks.record_audited(
        officer, house, data["persons"], channel="api", ip=_ip(), lat=data.get("lat"),
        lng=data.get("lng"), note=data.get("note"), plan_item=item)
    return SpotCheckOutSchema().dump(check), 200


def _target(officer, data):
    item = None
    if data.get("plan_item_id") is not None:
        item = scoped_get(SpotCheckPlanItem, data["plan_item_id"], officer, for_update=True)
        if item.officer_id != officer.id:
            abort(404)
        house = db.session.get(House, item.house_id)
    elif data.get("house_id") is not None:
        house = scoped_get(House, data["house_id"], officer)
    elif data.get("qr_token"):
        house = scoped_house_by_token(data["qr_token"], officer)
    else:
        raise RuleError("qr_token", "请扫描或输入门牌码")
    if item is not None and data.get("house_id") not in (None, house.id):
        raise RuleError("house_id", "该房屋不是这条抽查任务的房屋")
    return house, item


@bp.get("/officer/spot-checks")
@officer_required
def officer_spot_checks(officer):
    """The latest spot checks in my area, newest first."""
    return jsonify(SpotCheckOutSchema(many=True).dump(spot_checks.recent_checks(officer, limit=50)))


@bp.get("/officer/spot-checks/<int:spot_check_id>")
@officer_required
def officer_spot_check(officer, spot_check_id: int):
    """One spot check of my area with the persons found and the result for each."""
    return jsonify(SpotCheckOutSchema().dump(scoped_get(SpotCheck, spot_check_id, officer)))


@bp.get("/officer/spot-check-plan-items")
@officer_required
def officer_plan_items(officer):
    """The sampled houses assigned to me (?status=open|done|all)."""
    status = request.args.get("status", "open")
    status = status if status in ("open", "done", "all") else "open"
    return jsonify(PlanItemOutSchema(many=True).dump(
        spot_checks.plan_items_for(officer, status=status)))


@bp.post("/officer/spot-check-plans")
@officer_write
def officer_create_plan(officer):
    """Draw a spot-check plan (station admin): a seeded random sample of rental houses, assigned
    to the given officers in turn; the seed is returned and recorded."""
    data = PlanInSchema().load(json_body())
    if data.get("police_area_id") is not None:
        scoped_get(PoliceArea, data["police_area_id"], officer)
    officers = spot_checks.officers_by_ids(data["officer_ids"])
    plan = spot_checks.create_plan_audited(
        officer, channel="api", ip=_ip(), size=data["size"], officers=officers,
        police_area_id=data.get("police_area_id"), seed=data.get("seed"), note=data.get("note"))
    return PlanOutSchema().dump(plan), 200


# -- field collection (警务通采集) ------------------------------------------------------------------

@bp.post("/officer/field-collections")
@officer_write
def officer_field_collection(officer):
    """Register a house and/or its residents on site for a landlord who cannot, with the
    landlord's signature drawn on the screen; validated like a WeChat declaration."""
    data = FieldCollectionInSchema().load(json_body())
    address = field_collection.scoped_address(officer, data["qr_token"])
    if address is None:
        abort(404)
    signature = police_tasks.decode_base64(
        data["signature_png_base64"], "signature_png_base64", "签名编码不正确（应为 base64）")
    result = field_collection.collect_recorded(
        officer, address, ip=_ip(), detail={"gps": data.get("lat") is not None, "channel": "api"},
        signer_name=data["signer_name"], signature=signature, evidence_dir=evidence_dir(),
        owner=data.get("owner"), rental_type=data.get("rental_type"), rooms=data.get("rooms"),
        tenants=data.get("tenants") or [], lat=data.get("lat"), lng=data.get("lng"))
    return FieldCollectionOutSchema().dump(result), 200
