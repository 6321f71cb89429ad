"""Takeovers through the mini-program API are refused: a second registration of a plate or a
USCC answers 202 with the ownership claim; the owner names and removes the agent."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.models import Employer, House, PushMessage, WeChatUser
from app.services.declarations.claims import EMPLOYER_CLAIM_FILED, HOUSE_CLAIM_FILED
from tests.api.test_api import fake, person, register, user_api
from tests.factories import make_address, make_jurisdiction


@pytest.fixture()
def plates(db):
    place = make_jurisdiction()
    addresses = [make_address(place["community"]) for _ in range(2)]
    db.session.commit()
    return addresses


@pytest.fixture()
def owner(client, db, plates):
    api, user = user_api(client, db, "o-owner")
    house_id = register(api, plates[0]).get_json()["house_id"]
    api.post(f"/houses/{house_id}/move-ins", {"tenants": [
        dict(person(name="租客甲"), start_date=date.today().isoformat())]})
    return api, user, house_id


def test_second_registration_at_a_plate_answers_202_with_a_claim_and_changes_nothing(
        client, db, plates, owner, run_jobs):
    owner_api, owner_user, house_id = owner
    before = db.session.get(House, house_id)
    before = (before.owner_person_id, before.owner_wechat_user_id, before.agent_person_id)
    attacker, attacker_user = user_api(client, db, "o-attacker")
    resp = register(attacker, plates[0], owner=person(name="冒充者"), rooms=9)
    body = resp.get_json()
    assert resp.status_code == 202
    assert body["kind"] == "house" and body["status"] == "pending"
    assert body["message"] == HOUSE_CLAIM_FILED and body["house_id"] is None
    assert "tenants" not in body and "address" not in body

    db.session.expire_all()
    house = db.session.get(House, house_id)
    assert (house.owner_person_id, house.owner_wechat_user_id, house.agent_person_id) == before
    assert house.rooms == 3
    assert attacker.get(f"/houses/{house_id}").status_code == 404
    assert attacker.get("/houses").get_json() == []
    assert attacker.post(f"/houses/{house_id}/move-ins", {"tenants": []}).status_code == 404
    mine = owner_api.get(f"/houses/{house_id}").get_json()
    assert [t["name"] for t in mine["tenants"]] == ["租客甲"]
    # The claimant can follow the claim; nobody else can.
    assert attacker.get(f"/claims/{body['id']}").get_json()["status"] == "pending"
    assert owner_api.get(f"/claims/{body['id']}").status_code == 404
    run_jobs()
    push = db.session.execute(select(PushMessage).where(
        PushMessage.dedupe_key == f"claim:{body['id']}:owner:{owner_user.id}")).scalar_one()
    assert push.wechat_user_id == owner_user.id and push.status == "sent"


def test_same_key_returns_the_same_claim_and_a_second_submission_corrects_it(
        client, db, plates, owner):
    attacker, _ = user_api(client, db, "o-attacker")
    first = attacker.post("/houses", {"qr_token": plates[0].qr_token, "rental_type": "whole",
                                      "rooms": 2, "owner": person()}, key="claim-key-1")
    again = attacker.post("/houses", {"qr_token": plates[0].qr_token, "rental_type": "whole",
                                      "rooms": 2, "owner": person()}, key="claim-key-1")
    assert first.status_code == again.status_code == 202
    assert first.get_json()["id"] == again.get_json()["id"]
    other = register(attacker, plates[0], rooms=4)
    assert other.status_code == 202 and other.get_json()["id"] == first.get_json()["id"]


def test_second_registration_of_a_uscc_answers_202_and_the_employer_stays(client, db, plates):
    boss, boss_user = user_api(client, db, "o-boss")
    uscc = fake.uscc()
    employer_id = boss.post("/employers", {
        "name": "真公司", "uscc": uscc, "qr_token": plates[0].qr_token, "contact_name": "王",
        "contact_phone": fake.mobile()}).get_json()["employer_id"]
    boss.post(f"/employers/{employer_id}/hires", {"workers": [
        dict(person(name="工人丁"), start_date=date.today().isoformat())]})
    attacker, attacker_user = user_api(client, db, "o-attacker")
    resp = attacker.post("/employers", {
        "name": "冒充公司", "uscc": uscc, "qr_token": plates[1].qr_token, "contact_name": "李",
        "contact_phone": fake.mobile()})
    assert resp.status_code == 202
    assert resp.get_json()["message"] == EMPLOYER_CLAIM_FILED
    assert resp.get_json()["employer_id"] is None
    db.session.expire_all()
    assert db.session.get(Employer, employer_id).name == "真公司"
    assert db.session.get(WeChatUser, attacker_user.id).employer_id is None
    assert attacker.get(f"/employers/{employer_id}").status_code == 404
    assert [w["name"] for w in boss.get(f"/employers/{employer_id}").get_json()["workers"]] == [
        "工人丁"]


def test_owner_sets_and_removes_the_agent_through_the_api(client, db, plates, owner):
    owner_api, _, house_id = owner
    bad = owner_api.client.put(f"/api/v1/houses/{house_id}/agent", json={
        "agent": person(document_number="123")}, headers=owner_api._headers())
    assert bad.status_code == 400 and "agent.document_number" in bad.get_json()["fields"]
    agent_data = person(name="托管人乙")
    ok = owner_api.client.put(f"/api/v1/houses/{house_id}/agent", json={"agent": agent_data},
                              headers=owner_api._headers())
    assert ok.status_code == 200 and ok.get_json()["agent"]["name"] == "托管人乙"
    agent_api, agent_user = user_api(client, db, "o-agent")
    agent_user.person_id = db.session.get(House, house_id).agent_person_id  # a real-name check
    db.session.commit()
    assert agent_api.get(f"/houses/{house_id}").status_code == 200
    # Only the owner names or removes agents.
    assert agent_api.client.delete(f"/api/v1/houses/{house_id}/agent",
                                   headers=agent_api._headers()).status_code == 404
    gone = owner_api.client.delete(f"/api/v1/houses/{house_id}/agent",
                                   headers=owner_api._headers())
    assert gone.status_code == 200 and gone.get_json()["agent"] is None
    assert agent_api.get(f"/houses/{house_id}").status_code == 404


def test_openapi_documents_the_claim_answer_and_the_agent_endpoints(client, db):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/houses", "/employers"):
        answer = spec["paths"][path]["post"]["responses"]["202"]
        assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/ClaimOut")
        assert "待社区民警核实" in answer["description"]
    assert {"put", "delete"} <= set(spec["paths"]["/houses/{house_id}/agent"])
    assert "/claims/{claim_id}" in spec["paths"]
    assert "ClaimOut" in spec["components"]["schemas"]


def test_a_claim_naming_the_owners_document_does_not_rewrite_the_owner(client, db, plates):
    owner_api, _ = user_api(client, db, "o-owner")
    real = person(name="真房主")
    house_id = register(owner_api, plates[0], owner=real).get_json()["house_id"]
    owner_person = db.session.get(House, house_id).owner
    phone_before = owner_person.phone_masked
    attacker, _ = user_api(client, db, "o-attacker")
    resp = register(attacker, plates[0], owner=dict(real, name="冒充者", phone=fake.mobile()))
    assert resp.status_code == 202
    db.session.expire_all()
    owner_person = db.session.get(House, house_id).owner
    assert (owner_person.name, owner_person.phone_masked) == ("真房主", phone_before)
    bad = register(attacker, plates[0], owner=person(phone="12"))
    assert bad.status_code == 400 and "owner.phone" in bad.get_json()["fields"]
