"""Field collection (警务通采集): house and residents registered on site with a drawn signature,
stamped field/officer/GPS and validated like a WeChat declaration."""
from __future__ import annotations

import base64
import hashlib
import os

from sqlalchemy import func, select

from app.extensions import db
from app.fakedata import FakeData
from app.models import Declaration, House, OutboxJob, Residence
from tests.police.api import auth, new_key, token_of

fake = FakeData(2034)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 80


def _body(world, **extra):
    return {"qr_token": world.a.other_address.qr_token, "signer_name": "张老伯",
            "signature_png_base64": base64.b64encode(PNG).decode(), "lat": 24.48, "lng": 118.09,
            "owner": {"name": "张老伯", "document_number": fake.resident_id()},
            "rental_type": "whole", "rooms": 2,
            "tenants": [{"name": "刘租客", "document_number": fake.resident_id(),
                         "start_date": "2026-11-01", "room": "1"}], **extra}


def test_a_house_and_tenant_collected_on_site_are_stamped_and_batch_validated(client, world, app):
    token = token_of(client, "officer_a")
    resp = client.post("/api/v1/officer/field-collections", headers=auth(token, new_key()),
                       json=_body(world))
    assert resp.status_code == 200, resp.get_json()
    out = resp.get_json()
    assert out["pledge_signed"] is True and [d["kind"] for d in out["declarations"]] == [
        "house", "move_in"]
    house = db.session.get(House, out["house_id"])
    name = f"{hashlib.sha256(PNG).hexdigest()}.png"
    assert house.pledge_signature == name and house.pledge_signer_name == "张老伯"
    assert house.collected_channel == "field" and house.collected_lat == 24.48
    evidence = app.config.get("EVIDENCE_DIR") or os.path.join(app.instance_path, "evidence")
    assert open(os.path.join(evidence, name), "rb").read() == PNG
    for d in out["declarations"]:
        row = db.session.get(Declaration, d["id"])
        assert row.channel == "field" and row.submitter_officer_id == world.officers[
            "officer_a"].id
    residence = db.session.execute(select(Residence).where(
        Residence.declaration_id == out["declarations"][1]["id"])).scalar_one()
    assert residence.collected_by_type == "officer" and residence.collected_lng == 118.09
    # Two collected at once: one batch validation job, no single-declaration jobs.
    jobs = db.session.execute(select(OutboxJob.job)).scalars().all()
    assert "workers.jobs.validate_declarations_batch" in jobs
    assert "workers.jobs.validate_declaration" not in jobs


def test_residents_only_are_validated_like_a_wechat_move_in(client, world, run_jobs):
    token = token_of(client, "officer_a")
    body = _body(world, qr_token=world.a.address.qr_token, owner=None)
    resp = client.post("/api/v1/officer/field-collections", headers=auth(token, new_key()),
                       json=body)
    assert resp.status_code == 200, resp.get_json()
    declaration_id = resp.get_json()["declarations"][0]["id"]
    run_jobs()
    db.session.expire_all()
    assert db.session.get(Declaration, declaration_id).status != "received"


def test_a_signature_that_is_not_a_png_is_refused(client, world):
    token = token_of(client, "officer_a")
    body = _body(world, signature_png_base64=base64.b64encode(b"GIF89a" + b"0" * 40).decode())
    resp = client.post("/api/v1/officer/field-collections", headers=auth(token, new_key()),
                       json=body)
    assert resp.status_code == 400 and "PNG" in resp.get_json()["fields"]["signature"]
    big = _body(world, signature_png_base64=base64.b64encode(
        PNG + b"0" * (1024 * 1024)).decode())
    resp = client.post("/api/v1/officer/field-collections", headers=auth(token, new_key()),
                       json=big)
    assert resp.status_code == 400 and "1 MB" in resp.get_json()["fields"]["signature"]
    assert db.session.execute(select(func.count(Declaration.id)).where(
        Declaration.channel == "field")).scalar() == 0


def test_another_stations_address_is_not_found_and_a_resend_is_answered_the_same(client,
                                                                                world):
    token_b = token_of(client, "officer_b")
    resp = client.post("/api/v1/officer/field-collections", headers=auth(token_b, new_key()),
                       json=_body(world))
    assert resp.status_code == 404
    token = token_of(client, "officer_a")
    key, body = new_key(), _body(world)
    first = client.post("/api/v1/officer/field-collections", headers=auth(token, key), json=body)
    again = client.post("/api/v1/officer/field-collections", headers=auth(token, key), json=body)
    assert first.get_json() == again.get_json()
    assert db.session.execute(select(func.count(Declaration.id)).where(
        Declaration.channel == "field")).scalar() == 2
