"""Officer API (警务通) penalty decisions (处罚决定): record one from a 漏登 or a house, read one;
scoped like the console (another station's → 404), writes idempotent (officer_auth)."""
from __future__ import annotations

from flask import jsonify

from app.api import bp
from app.api.officer import _ip
from app.api.officer_auth import json_body, officer_required, officer_write
from app.schemas.penalties import OfficerPenaltyInSchema, PenaltyOutSchema
from app.services.errors import RuleError
from app.services.police import penalties as penalty_service


@bp.post("/officer/penalties")
@officer_write
def officer_record_penalty(officer):
    """Record a penalty decision: the legal basis is chosen by the offence date and the amount
    checked against that article's range; give missed_registration_id or house_id."""
    data = OfficerPenaltyInSchema().load(json_body())
    missed_id, house_id = data.pop("missed_registration_id", None), data.pop("house_id", None)
    if missed_id is not None:
        target = penalty_service.target_for_missed(missed_id, officer)
    elif house_id is not None:
        target = penalty_service.target_for_house(house_id, officer)
    else:
        raise RuleError("house_id", "请给出漏登核查任务（missed_registration_id）或房屋（house_id）")
    penalty = penalty_service.record_penalty(officer, target, ip=_ip(), channel="api", **data)
    return PenaltyOutSchema().dump(penalty), 200


@bp.get("/officer/penalties/<int:penalty_id>")
@officer_required
def officer_penalty(officer, penalty_id: int):
    """One penalty decision of my station, with the legal basis and the article text cited."""
    return jsonify(PenaltyOutSchema().dump(penalty_service.get_penalty(penalty_id, officer)))
