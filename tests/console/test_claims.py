"""Ownership claims in the console: the area officer approves (ownership moves, audited, pushed)
or refuses with a reason (nothing changes); another station's officer cannot see or decide."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, Employer, House, OwnershipClaim, PushMessage, WeChatUser
from tests.api.test_api import fake, person, register, user_api
from tests.console.helpers import login


@pytest.fixture()
def claimed(app, world):
    """In area A: a house registered by its owner with a tenant, and a stranger's claim on it."""
    api_client = app.test_client()
    owner_api, owner_user = user_api(api_client, db, "o-owner")
    address = world.a.other_address
    house_id = register(owner_api, address).get_json()["house_id"]
    owner_api.post(f"/houses/{house_id}/move-ins", {"tenants": [
        dict(person(name="租客甲"), start_date=date.today().isoformat())]})
    claimant_api, claimant_user = user_api(api_client, db, "o-claimant")
    claim_id = register(claimant_api, address, owner=person(name="新房主"), rooms=5,
                        agent=person(name="新托管人")).get_json()["id"]
    return {"owner": owner_api, "owner_user": owner_user, "house_id": house_id,
            "claimant": claimant_api, "claimant_user": claimant_user, "claim_id": claim_id}


def _claim(claim_id) -> OwnershipClaim:
    db.session.expire_all()
    return db.session.get(OwnershipClaim, claim_id)


def test_area_officer_lists_and_reads_the_claim_masked(as_officer, claimed):
    listed = as_officer.get("/console/claims").get_data(as_text=True)
    assert f'/console/claims/{claimed["claim_id"]}' in listed
    page = as_officer.get(f"/console/claims/{claimed['claim_id']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "申请变更房主" in html
    claim = _claim(claimed["claim_id"])
    assert claim.proposed_owner.document_masked in html
    assert "新房主" not in html  # names are masked too


def test_officer_approves_and_ownership_moves_to_the_claimant(as_officer, world, claimed,
                                                              run_jobs):
    claim = _claim(claimed["claim_id"])
    proposed_owner, proposed_agent = claim.proposed_owner_person_id, claim.proposed_agent_person_id
    resp = as_officer.post(f"/console/claims/{claim.id}/decide",
                           data={"action": "approve", "reason": "已核对房产证"})
    assert resp.status_code == 302
    claim = _claim(claim.id)
    assert claim.status == "approved" and claim.decided_by_officer_id == world.officers[
        "officer_a"].id
    house = db.session.get(House, claimed["house_id"])
    assert house.owner_wechat_user_id == claimed["claimant_user"].id
    assert (house.owner_person_id, house.agent_person_id) == (proposed_owner, proposed_agent)
    assert house.rooms == 5
    row = db.session.execute(select(AuditLog).where(
        AuditLog.object_type == "ownership_claim", AuditLog.object_id == claim.id,
        AuditLog.action == "claim.approve")).scalar_one()
    assert row.actor_type == "officer" and row.reason == "已核对房产证"
    assert row.detail["before"]["owner_wechat_user_id"] == claimed["owner_user"].id
    # The previous owner loses the house; the new owner sees its tenants.
    assert claimed["owner"].get(f"/houses/{house.id}").status_code == 404
    tenants = claimed["claimant"].get(f"/houses/{house.id}").get_json()["tenants"]
    assert [t["name"] for t in tenants] == ["租客甲"]
    run_jobs()
    keys = set(db.session.execute(select(PushMessage.dedupe_key)).scalars())
    assert f"claim:{claim.id}:approved" in keys
    assert f"claim:{claim.id}:transferred:{claimed['owner_user'].id}" in keys


def test_refusal_needs_a_reason_and_then_changes_nothing(as_officer, claimed, run_jobs):
    claim_id = claimed["claim_id"]
    house = db.session.get(House, claimed["house_id"])
    before = (house.owner_person_id, house.owner_wechat_user_id, house.agent_person_id)
    bare = as_officer.post(f"/console/claims/{claim_id}/decide", data={"action": "refuse"})
    assert bare.status_code == 400 and "必须填写原因" in bare.get_data(as_text=True)
    assert _claim(claim_id).status == "pending"
    as_officer.post(f"/console/claims/{claim_id}/decide",
                    data={"action": "refuse", "reason": "无法提供产权证明"})
    claim = _claim(claim_id)
    assert claim.status == "refused" and claim.decision_reason == "无法提供产权证明"
    house = db.session.get(House, claimed["house_id"])
    assert (house.owner_person_id, house.owner_wechat_user_id, house.agent_person_id) == before
    assert claimed["claimant"].get(f"/houses/{house.id}").status_code == 404
    answer = claimed["claimant"].get(f"/claims/{claim_id}").get_json()
    assert answer["status"] == "refused" and "无法提供产权证明" in answer["message"]
    assert db.session.execute(select(AuditLog.action).where(
        AuditLog.object_id == claim_id, AuditLog.object_type == "ownership_claim",
        AuditLog.actor_type == "officer")).scalars().all() == ["claim.refuse"]
    again = as_officer.post(f"/console/claims/{claim_id}/decide", data={"action": "approve"})
    assert again.status_code == 400 and "已处理" in again.get_data(as_text=True)
    run_jobs()
    assert db.session.execute(select(PushMessage).where(
        PushMessage.dedupe_key == f"claim:{claim_id}:refused")).scalar_one()


def test_another_stations_officer_cannot_see_or_decide_the_claim(client, claimed):
    login(client, "officer_b")
    claim_id = claimed["claim_id"]
    assert client.get(f"/console/claims/{claim_id}").status_code == 404
    assert client.post(f"/console/claims/{claim_id}/decide",
                       data={"action": "approve"}).status_code == 404
    assert f"/console/claims/{claim_id}" not in client.get("/console/claims").get_data(
        as_text=True)
    assert _claim(claim_id).status == "pending"


def test_house_page_links_to_its_claims(as_officer, claimed):
    html = as_officer.get(f"/console/houses/{claimed['house_id']}").get_data(as_text=True)
    assert "1 条待核实" in html and 'data-testid="house-claims"' in html
    assert "变更申请" in as_officer.get("/console/").get_data(as_text=True)


def test_approved_employer_claim_moves_the_wechat_link_and_the_workers(app, as_officer, world):
    api_client = app.test_client()
    boss, boss_user = user_api(api_client, db, "o-boss")
    uscc = fake.uscc()
    employer_id = boss.post("/employers", {
        "name": "真公司", "uscc": uscc, "qr_token": world.a.address.qr_token,
        "contact_name": "王", "contact_phone": fake.mobile()}).get_json()["employer_id"]
    boss.post(f"/employers/{employer_id}/hires", {"workers": [
        dict(person(name="工人丁"), start_date=date.today().isoformat())]})
    heir, heir_user = user_api(api_client, db, "o-heir")
    claim_id = heir.post("/employers", {
        "name": "真公司（更名）", "uscc": uscc, "qr_token": world.a.other_address.qr_token,
        "contact_name": "李", "contact_phone": fake.mobile()}).get_json()["id"]
    as_officer.post(f"/console/claims/{claim_id}/decide",
                    data={"action": "approve", "reason": "已核对营业执照和授权书"})
    db.session.expire_all()
    employer = db.session.get(Employer, employer_id)
    assert employer.name == "真公司（更名）" and employer.address_id == world.a.other_address.id
    assert db.session.get(WeChatUser, heir_user.id).employer_id == employer_id
    assert db.session.get(WeChatUser, boss_user.id).employer_id is None
    assert boss.get(f"/employers/{employer_id}").status_code == 404
    workers = heir.get(f"/employers/{employer_id}").get_json()["workers"]
    assert [w["name"] for w in workers] == ["工人丁"]


def test_approval_applies_the_typed_name_and_phone_to_an_existing_person(app, as_officer, world):
    api_client = app.test_client()
    owner_api, _ = user_api(api_client, db, "o-owner")
    real = person(name="房主本人")
    house_id = register(owner_api, world.a.other_address, owner=real).get_json()["house_id"]
    new_phone = "13912345678"
    # The same owner on a new WeChat account: a claim, decided by the officer.
    second, second_user = user_api(api_client, db, "o-owner-new-phone")
    claim_id = register(second, world.a.other_address,
                        owner=dict(real, name="房主本人", phone=new_phone)).get_json()["id"]
    page = as_officer.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    assert "申请房主与现房主证件相同" in page and "139****5678" in page
    assert db.session.get(House, house_id).owner.phone_masked != "139****5678"
    as_officer.post(f"/console/claims/{claim_id}/decide", data={"action": "approve"})
    db.session.expire_all()
    house = db.session.get(House, house_id)
    assert house.owner_wechat_user_id == second_user.id
    assert house.owner.phone_masked == "139****5678"
