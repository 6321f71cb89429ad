"""Mini-program JSON API: the same services as the H5 pages, one error body everywhere."""
from __future__ import annotations

from flask import jsonify, request
from marshmallow import ValidationError

from app.api import bp
from app.api.auth import SUBMISSION_LIMIT, api_user, idempotent, ip, submitter_key
from app.api.openapi import build_spec
from app.extensions import SUBMISSION_SCOPE, db, limiter
from app.models import Declaration, OwnershipClaim
from app.schemas.claims import AgentInSchema, ClaimOutSchema
from app.schemas.declarations import (
    AddressMatchOutSchema,
    AddressOutSchema,
    CommunityOutSchema,
    CorrectionSchema,
    DeclarationOutSchema,
    EmployerInSchema,
    HireSchema,
    HouseInSchema,
    HouseOutSchema,
    LeaveSchema,
    MoveInSchema,
    MoveOutSchema,
    PledgeInSchema,
    ResidenceOutSchema,
    SelfDeclarationSchema,
    VacancySchema,
    employer_fields,
    house_fields,
    typed_address_fields,
)
from app.services.declarations import claims, corrections
from app.services.declarations import declare, employers, rentals
from app.services.declarations import self_declare as self_service
from app.services.declarations import ownership
from app.services.registry import typed_address

declaration_out = DeclarationOutSchema()
submission_limit = limiter.shared_limit(SUBMISSION_LIMIT, scope=SUBMISSION_SCOPE,
                                        key_func=submitter_key, methods=["POST"])


def _json() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return {}
    return data


def _created(declaration: Declaration):
    db.session.commit()
    db.session.refresh(declaration)
    return jsonify(declaration_out.dump(declaration)), 201


def _registered(result: Declaration | OwnershipClaim):
    """201 with the declaration, or 202 with the ownership claim a taken house/USCC filed."""
    if isinstance(result, OwnershipClaim):
        db.session.commit()
        db.session.refresh(result)
        return jsonify(ClaimOutSchema().dump(result)), 202
    return _created(result)


@bp.get("/")
def index():
    """API root: name and version, so clients can check they reach the right service."""
    return jsonify({"service": "anju", "api": "v1", "openapi": "/api/v1/openapi.json"})


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document, generated from the marshmallow schemas."""
    return jsonify(build_spec())


@bp.get("/addresses/match")
def match_addresses():
    """Standard-address candidates, scored, for an address typed within a chosen community
    (?q=…&community_id=…): pick one, or submit the text as typed for the community's officer."""
    api_user()
    found = typed_address.candidates(request.args.get("q"), request.args.get("community_id"))
    return jsonify(AddressMatchOutSchema().dump({"candidates": found}))


@bp.get("/communities")
def communities():
    """Communities to choose from for a typed address (?q= filters by name)."""
    api_user()
    return jsonify(CommunityOutSchema(many=True).dump(
        typed_address.communities(request.args.get("q"))))


@bp.get("/addresses/<token>")
def address(token: str):
    """The standard address behind a door-plate token, and its house if registered."""
    api_user()
    found = ownership.address_by_token(token)
    return jsonify(AddressOutSchema().dump(found))


@bp.post("/houses")
@submission_limit
@idempotent
def register_house(key):
    """Register the house at a scanned door plate; a house already registered by someone else
    gets an ownership claim instead (202)."""
    user = api_user()
    data = HouseInSchema().load(_json())
    found = ownership.address_by_token(data["qr_token"], field="qr_token")
    result = rentals.register_house(
        declare.Submitter("landlord", user.id, channel="miniapp", ip=ip()), found,
        **house_fields(data), idempotency_key=key)
    return _registered(result)


@bp.get("/houses")
def my_houses():
    """The houses this landlord registered."""
    user = api_user()
    houses = ownership.houses_of(user)
    return jsonify(HouseOutSchema(many=True).dump(houses))


@bp.get("/houses/<int:house_id>")
def house_detail(house_id: int):
    """One of my houses with its current tenants."""
    house = ownership.my_house(api_user(), house_id)
    tenants = ownership.live_residences(house)
    return jsonify({**HouseOutSchema().dump(house),
                    "tenants": ResidenceOutSchema(many=True).dump(tenants)})


@bp.post("/houses/<int:house_id>/pledge")
@submission_limit
def sign_pledge(house_id: int):
    """Sign the current 治安责任保证书 for one of my houses."""
    house = ownership.my_house(api_user(), house_id)
    data = PledgeInSchema().load(_json())
    if not data["agree"]:
        raise ValidationError({"agree": ["请阅读并同意保证书"]})
    rentals.sign_pledge(house, signer_name=data["signer_name"], ip=ip())
    db.session.commit()
    return jsonify(HouseOutSchema().dump(house))


@bp.post("/houses/<int:house_id>/move-ins")
@submission_limit
@idempotent
def move_in(key, house_id: int):
    """Declare tenants moving in (several in one submission)."""
    user = api_user()
    house = ownership.my_house(user, house_id)
    data = MoveInSchema().load(_json())
    declaration = rentals.declare_move_in(declare.Submitter("landlord", user.id, channel="miniapp"),
                                          house, data["tenants"], idempotency_key=key)
    return _created(declaration)


@bp.post("/houses/<int:house_id>/move-outs")
@submission_limit
@idempotent
def move_out(key, house_id: int):
    """Declare tenants moving out."""
    user = api_user()
    house = ownership.my_house(user, house_id)
    data = MoveOutSchema().load(_json())
    declaration = rentals.declare_move_out(declare.Submitter("landlord", user.id, channel="miniapp"),
                                           house, data["residence_ids"], data["end_date"],
                                           idempotency_key=key)
    return _created(declaration)


@bp.post("/claims/<int:claim_id>/withdraw")
@submission_limit
def withdraw_claim(claim_id: int):
    """Withdraw my ownership claim while it still waits for the officer."""
    user = api_user()
    claim = claims.withdraw(claims.my_claim(user, claim_id), user, ip=ip())
    db.session.commit()
    return jsonify(ClaimOutSchema().dump(claim))


@bp.put("/houses/<int:house_id>/agent")
@submission_limit
def set_agent(house_id: int):
    """The owner names the house's agent (托管人: name, document, phone)."""
    user = api_user()
    house = ownership.owned_house(user, house_id)
    data = AgentInSchema().load(_json())
    rentals.set_agent(declare.Submitter("landlord", user.id, channel="miniapp", ip=ip()), house,
                      data["agent"])
    db.session.commit()
    return jsonify(HouseOutSchema().dump(house))


@bp.delete("/houses/<int:house_id>/agent")
@submission_limit
def remove_agent(house_id: int):
    """The owner removes the house's agent, whose access ends at once."""
    user = api_user()
    house = ownership.owned_house(user, house_id)
    rentals.remove_agent(declare.Submitter("landlord", user.id, channel="miniapp", ip=ip()), house)
    db.session.commit()
    return jsonify(HouseOutSchema().dump(house))


@bp.put("/houses/<int:house_id>/vacancy")
@submission_limit
def set_vacancy(house_id: int):
    """Mark my house vacant ({"is_vacant": true}: tenant reminders stop) or let again."""
    house = ownership.my_house(api_user(), house_id)
    data = VacancySchema().load(_json())
    rentals.set_vacancy(house, data["is_vacant"])
    db.session.commit()
    return jsonify(HouseOutSchema().dump(house))


@bp.post("/houses/<int:house_id>/confirm")
@submission_limit
def confirm_unchanged(house_id: int):
    """One tap: my tenants are unchanged."""
    house = ownership.my_house(api_user(), house_id)
    rentals.confirm_tenants_unchanged(house)
    db.session.commit()
    return jsonify(HouseOutSchema().dump(house))


@bp.get("/declarations")
def my_declarations():
    """Every declaration I submitted, newest first, with status and (public) reasons."""
    rows = ownership.my_declarations(api_user(), limit=200)
    return jsonify(DeclarationOutSchema(many=True).dump(rows))


@bp.get("/declarations/<int:declaration_id>")
def declaration_detail(declaration_id: int):
    """One of my declarations."""
    declaration = ownership.my_declaration(api_user(), declaration_id)
    return jsonify(declaration_out.dump(declaration))


@bp.post("/declarations/<int:declaration_id>/corrections")
@submission_limit
@idempotent
def correct(key, declaration_id: int):
    """Correct one of my declarations: a tenant's details in a move-in or self-declaration, or
    the facts of a rejected or flagged house, employer, hire, move-out or leave."""
    user = api_user()
    original = ownership.my_declaration(user, declaration_id)
    data = typed_address.correction_dormitory(CorrectionSchema().load(_json()))
    declaration = corrections.correct(
        declare.Submitter(original.submitter_role, user.id, channel="miniapp"), original, data,
        idempotency_key=key)
    return _created(declaration)


@bp.post("/self-declarations")
@submission_limit
@idempotent
def self_declare(key):
    """A tenant declares themself at a scanned door plate; the landlord confirms."""
    user = api_user()
    data = SelfDeclarationSchema().load(_json())
    submitter = declare.Submitter("tenant", user.id, channel="miniapp")
    if not data.get("qr_token"):  # no plate: a typed (or picked) address in a community
        return _created(typed_address.declare_self_typed(
            submitter, data["me"], **typed_address_fields(data), idempotency_key=key))
    house = ownership.house_at_token(data["qr_token"])
    declaration = self_service.declare_self(submitter, house, data["me"], idempotency_key=key)
    return _created(declaration)


@bp.post("/declarations/<code>/confirm")
@submission_limit
def confirm(code: str):
    """The other party confirms a declaration: the landlord a tenant's, the tenant a landlord's."""
    user = api_user()
    declaration, role = ownership.confirmable(user, code)
    self_service.confirm_declaration(declaration, declare.Submitter(role, user.id, channel="miniapp"))
    db.session.commit()
    return jsonify(declaration_out.dump(declaration))


@bp.get("/me/registrations")
def my_registrations():
    """A tenant's own registrations, with the date a 居住证 can be applied for."""
    return jsonify([{**ResidenceOutSchema().dump(item["residence"]), "address": item["address"]}
                    for item in ownership.my_registrations(api_user())])


@bp.post("/employers")
@submission_limit
@idempotent
def register_employer(key):
    """Register an employer (统一社会信用代码 checked) at a door-plate address; a USCC already
    registered by someone else gets an ownership claim instead (202)."""
    user = api_user()
    data = EmployerInSchema().load(_json())
    found = ownership.address_by_token(data["qr_token"], field="qr_token")
    result = employers.register_employer(
        declare.Submitter("employer", user.id, channel="miniapp", ip=ip()), address=found,
        **employer_fields(data), idempotency_key=key)
    return _registered(result)


@bp.get("/claims/<int:claim_id>")
def claim_detail(claim_id: int):
    """One of my ownership claims and its outcome."""
    return jsonify(ClaimOutSchema().dump(claims.my_claim(api_user(), claim_id)))


@bp.get("/employers/<int:employer_id>")
def employer_detail(employer_id: int):
    """My employer and its current workers."""
    employer = ownership.my_employer(api_user(), employer_id)
    workers = ownership.current_workers(employer)
    return jsonify({"id": employer.id, "name": employer.name, "uscc": employer.uscc,
                    "workers": [{"employment_id": e.id, "name": e.shown_name,
                                 "document_masked": e.person.document_masked,
                                 "start_date": e.start_date.isoformat(), "job": e.job,
                                 "status": e.status} for e in workers]})


@bp.post("/employers/<int:employer_id>/hires")
@submission_limit
@idempotent
def hire(key, employer_id: int):
    """Declare workers hired, with their dormitory door plates."""
    user = api_user()
    employer = ownership.my_employer(user, employer_id)
    workers = typed_address.hire_dormitories(HireSchema().load(_json())["workers"])
    declaration = employers.declare_hire(declare.Submitter("employer", user.id, channel="miniapp"),
                                         employer, workers, idempotency_key=key)
    return _created(declaration)


@bp.post("/employers/<int:employer_id>/leaves")
@submission_limit
@idempotent
def leave(key, employer_id: int):
    """Declare workers who left."""
    user = api_user()
    employer = ownership.my_employer(user, employer_id)
    data = LeaveSchema().load(_json())
    declaration = employers.declare_leave(declare.Submitter("employer", user.id, channel="miniapp"),
                                          employer, data["employment_ids"], data["end_date"],
                                          idempotency_key=key)
    return _created(declaration)


