"""Officer API penalty decisions (处罚): record from a house or a 漏登, read back; amounts out of
range refused with the field named; another station's → 404; resends land once; documented."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from app.extensions import db
from app.models import Penalty
from tests.police.api import auth, new_key, token_of
from tests.police.test_penalties import _landlord, _missed


def _body(world, landlord, **extra):
    return {"house_id": world.a.house.id, "landlord_person_id": landlord.id,
            "offence_date": "2026-01-01", "amount_yuan": "1000", "note": "未登记租客", **extra}


def test_a_penalty_is_recorded_read_back_and_a_resend_changes_nothing(client, world):
    landlord = _landlord(world)
    token, key = token_of(client, "officer_a"), new_key()
    first = client.post("/api/v1/officer/penalties", headers=auth(token, key),
                        json=_body(world, landlord))
    assert first.status_code == 200, first.get_json()
    out = first.get_json()
    assert out["legal_basis_key"] == "zaf-2025-68" and out["amount_yuan"] == "1000.00"
    assert out["legal_citation"].endswith("第六十八条") and "一千元以下" in out["legal_text"]
    assert out["landlord_name"] == "王*东" and out["decided_by"] == "甲民警"
    assert out["decided_at"].endswith("+08:00") and out["kind"] == "fine"
    again = client.post("/api/v1/officer/penalties", headers=auth(token, key),
                        json=_body(world, landlord))
    assert again.get_json() == out
    assert db.session.execute(select(func.count(Penalty.id))).scalar() == 1
    read = client.get(f"/api/v1/officer/penalties/{out['id']}", headers=auth(token))
    assert read.status_code == 200 and read.get_json() == out


def test_the_2012_range_applies_before_2026_and_out_of_range_names_the_field(client, world):
    landlord = _landlord(world)
    token = token_of(client, "officer_a")
    resp = client.post("/api/v1/officer/penalties", headers=auth(token, new_key()),
                       json=_body(world, landlord, offence_date="2025-12-31", amount_yuan="600"))
    body = resp.get_json()
    assert resp.status_code == 400 and "amount_yuan" in body["fields"]
    assert "第五十七条" in body["fields"]["amount_yuan"]
    ok = client.post("/api/v1/officer/penalties", headers=auth(token, new_key()),
                     json=_body(world, landlord, offence_date="2025-12-31", amount_yuan="500"))
    assert ok.status_code == 200 and ok.get_json()["legal_basis_key"] == "zaf-2012-57"
    bad = client.post("/api/v1/officer/penalties", headers=auth(token, new_key()),
                      json=_body(world, landlord, offence_date="昨天"))
    assert bad.status_code == 400 and "违法行为发生日期" in bad.get_json()["fields"]["offence_date"]
    none = client.post("/api/v1/officer/penalties", headers=auth(token, new_key()),
                       json=_body(world, landlord, house_id=None))
    assert none.status_code == 400 and "house_id" in none.get_json()["fields"]


def test_a_warning_from_a_missed_registration_when_minor(client, world):
    landlord = _landlord(world)
    miss = _missed(world, landlord, found=datetime(2026, 5, 1, 4))
    token = token_of(client, "officer_a")
    body = {"missed_registration_id": miss.id, "landlord_person_id": landlord.id,
            "offence_date": "2026-05-01", "kind": "warning", "minor": True}
    resp = client.post("/api/v1/officer/penalties", headers=auth(token, new_key()), json=body)
    assert resp.status_code == 200, resp.get_json()
    out = resp.get_json()
    assert (out["missed_registration_id"], out["kind"], out["amount_yuan"], out["minor"]) == (
        miss.id, "warning", None, True)
    twice = client.post("/api/v1/officer/penalties", headers=auth(token, new_key()), json=body)
    assert twice.status_code == 409


def test_another_station_gets_404_for_its_houses_missed_registrations_and_penalties(client,
                                                                                    world):
    landlord = _landlord(world)
    miss = _missed(world, landlord, found=datetime(2026, 5, 1, 4))
    token_a, token_b = token_of(client, "officer_a"), token_of(client, "officer_b")
    out = client.post("/api/v1/officer/penalties", headers=auth(token_a, new_key()),
                      json=_body(world, landlord)).get_json()
    assert client.get(f"/api/v1/officer/penalties/{out['id']}",
                      headers=auth(token_b)).status_code == 404
    assert client.post("/api/v1/officer/penalties", headers=auth(token_b, new_key()),
                       json=_body(world, landlord)).status_code == 404
    assert client.post("/api/v1/officer/penalties", headers=auth(token_b, new_key()), json={
        "missed_registration_id": miss.id, "landlord_person_id": landlord.id,
        "offence_date": "2026-05-01", "amount_yuan": "500"}).status_code == 404
    assert db.session.execute(select(func.count(Penalty.id))).scalar() == 1


def test_the_penalty_operations_are_in_the_openapi_document(client, world):
    spec = client.get("/api/v1/openapi.json").get_json()
    post = spec["paths"]["/officer/penalties"]["post"]
    assert post["tags"] == ["officer"] and "Idempotency-Key" in str(post["parameters"])
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "OfficerPenaltyIn")
    assert "/officer/penalties/{penalty_id}" in spec["paths"]
    fields = spec["components"]["schemas"]["PenaltyOut"]["properties"]
    assert {"legal_citation", "legal_text", "amount_yuan", "decided_at"} <= set(fields)
