"""Officer API (警务通) 漏登 trace-back tasks, from case cross-checks and spot checks: list, get,
close; scoped like the console (scoping.scope_missed), writes idempotent (officer_auth)."""
from __future__ import annotations

from flask import jsonify, request

from app.api import bp
from app.api.officer import _ip, _page_arg, _status_arg
from app.api.officer_auth import json_body, officer_required, officer_write
from app.models import MissedRegistration
from app.schemas.cases import MissedCloseInSchema, MissedOutSchema
from app.services.accounts import audit
from app.services.accounts.scoping import scoped_get
from app.services.police import missed


@bp.get("/officer/missed-registrations")
@officer_required
def officer_missed_list(officer):
    """漏登 tasks in my area, nearest deadline first (?status=open|resolved|all, ?source=)."""
    rows, _ = missed.misses_for(officer, status=_status_arg("open", ("open", "resolved", "all")),
                                source=request.args.get("source") or None, page=_page_arg())
    return jsonify(MissedOutSchema(many=True).dump(rows))


@bp.get("/officer/missed-registrations/<int:missed_id>")
@officer_required
def officer_missed(officer, missed_id: int):
    """One 漏登 task of my area, with the case behind it and 已补登 if so."""
    return jsonify(MissedOutSchema().dump(scoped_get(MissedRegistration, missed_id, officer)))


@bp.post("/officer/missed-registrations/<int:missed_id>/close")
@officer_write
def officer_close_missed(officer, missed_id: int):
    """Close a trace-back with the outcome and where the person actually lived."""
    task = scoped_get(MissedRegistration, missed_id, officer, for_update=True)
    data = MissedCloseInSchema().load(json_body())
    missed.close(task, officer, outcome=data["outcome"], note=data.get("note"),
                 address_text=data.get("address_text"))
    audit.record(officer, "missed.close", "missed_registration", task.id, ip=_ip(),
                 detail={"outcome": task.outcome_code, "source": task.source, "channel": "api"})
    return MissedOutSchema().dump(task), 200
