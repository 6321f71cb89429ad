"""Officer API field work: control tasks and alerts, scoped like the console, every write
idempotent by Idempotency-Key."""
from __future__ import annotations

import base64
import json

from sqlalchemy import func, select

from app.extensions import db
from app.models import Alert, AuditLog, ControlTask, IdempotentRequest
from app.services.police import watch
from tests.console.helpers import DOCUMENTS
from tests.police.api import auth, new_key, token_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _listed(world):
    _, created = watch.list_person(document_type="居民身份证", document_number=DOCUMENTS["A"],
                                   name="A租客甲", category="重点人员", source="市局下发")
    db.session.commit()
    return created


def _item(client, token, task_id, key="see_person", body=None, idem=None):
    return client.post(f"/api/v1/officer/tasks/{task_id}/items/{key}",
                       headers=auth(token, idem or new_key()),
                       json=body if body is not None else {"lat": 24.48, "lng": 118.09,
                                                            "note": "见到本人"})


def test_the_area_officer_lists_and_reads_own_tasks(client, world):
    created = _listed(world)
    token = token_of(client, "officer_a")
    rows = client.get("/api/v1/officer/tasks", headers=auth(token)).get_json()
    assert [r["id"] for r in rows] == [t.id for t in created]
    assert rows[0]["person_name"] == "A**甲" and rows[0]["template"] == "五见"
    assert rows[0]["checklist"][0]["deadline"].endswith("+08:00")
    one = client.get(f"/api/v1/officer/tasks/{created[0].id}", headers=auth(token))
    assert one.status_code == 200 and len(one.get_json()["checklist"]) == 5


def test_another_stations_task_is_not_found(client, world):
    created = _listed(world)
    token = token_of(client, "officer_b")
    assert client.get("/api/v1/officer/tasks", headers=auth(token)).get_json() == []
    resp = client.get(f"/api/v1/officer/tasks/{created[0].id}", headers=auth(token))
    assert resp.status_code == 404 and resp.get_json()["code"] == 404
    write = _item(client, token, created[0].id)
    assert write.status_code == 404
    db.session.expire_all()
    assert db.session.get(ControlTask, created[0].id).checklist[0]["done_at"] is None


def test_completing_an_item_records_who_when_where(client, world):
    created = _listed(world)
    token = token_of(client, "officer_a")
    resp = _item(client, token, created[0].id)
    assert resp.status_code == 200
    item = resp.get_json()["checklist"][0]
    assert (item["lat"], item["lng"], item["officer_name"], item["note"]) == (
        24.48, 118.09, "甲民警", "见到本人")
    assert item["done_at"].endswith("+08:00")
    assert db.session.execute(select(AuditLog.action).where(
        AuditLog.action == "control_task.item")).scalar_one()


def test_the_same_idempotency_key_gets_the_same_answer_and_one_write(client, world):
    created = _listed(world)
    token = token_of(client, "officer_a")
    first = _item(client, token, created[0].id, idem="retry-1")
    again = _item(client, token, created[0].id, idem="retry-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.get_json() == again.get_json()
    assert db.session.execute(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "control_task.item")).scalar_one() == 1
    assert db.session.execute(select(func.count()).select_from(IdempotentRequest)).scalar_one() == 1


def test_the_same_key_for_another_request_is_refused(client, world):
    created = _listed(world)
    token = token_of(client, "officer_a")
    _item(client, token, created[0].id, idem="reused")
    other = _item(client, token, created[0].id, key="see_document", idem="reused")
    assert other.status_code == 400
    assert "幂等键已用于另一项操作" in other.get_json()["fields"]["Idempotency-Key"]


def test_keys_belong_to_one_officer(client, world):
    created = _listed(world)
    admin = token_of(client, "station_a")
    officer = token_of(client, "officer_a")
    assert _item(client, officer, created[0].id, idem="shared").status_code == 200
    resp = _item(client, admin, created[0].id, key="see_document", idem="shared")
    assert resp.status_code == 200  # another officer's key space: a new write


def test_a_write_without_an_idempotency_key_is_refused(client, world):
    created = _listed(world)
    token = token_of(client, "officer_a")
    resp = client.post(f"/api/v1/officer/tasks/{created[0].id}/items/see_person",
                       headers=auth(token), json={"lat": 1, "lng": 2})
    assert resp.status_code == 400 and "Idempotency-Key" in resp.get_json()["fields"]


def test_no_gps_needs_a_reason_in_the_error_body(client, world):
    created = _listed(world)
    token = token_of(client, "officer_a")
    resp = _item(client, token, created[0].id, body={"note": "x"})
    assert resp.status_code == 400
    assert resp.get_json()["fields"] == {"no_gps_reason": "未获取到定位，请说明原因"}
    ok = _item(client, token, created[0].id, body={"no_gps_reason": "定位权限被拒绝"})
    assert ok.get_json()["checklist"][0]["no_gps_reason"] == "定位权限被拒绝"


def test_completing_a_done_item_again_is_a_conflict(client, world):
    created = _listed(world)
    token = token_of(client, "officer_a")
    _item(client, token, created[0].id)
    resp = _item(client, token, created[0].id)
    assert resp.status_code == 409 and resp.get_json()["message"] == "该事项已完成"


def test_bad_coordinates_and_unknown_items_are_refused(client, world):
    created = _listed(world)
    token = token_of(client, "officer_a")
    assert _item(client, token, created[0].id, body={"lat": 95, "lng": 1}).status_code == 400
    assert _item(client, token, created[0].id, body={"lat": "x", "lng": 1}).status_code == 400
    assert _item(client, token, created[0].id, key="nope",
                 body={"lat": 1, "lng": 1}).status_code == 400


def test_photo_evidence_is_stored_by_content_hash_outside_the_database(app, client, world):
    import hashlib
    import os

    created = _listed(world)
    token = token_of(client, "officer_a")
    resp = _item(client, token, created[0].id,
                 body={"lat": 1, "lng": 1, "photo_base64": base64.b64encode(PNG).decode()})
    assert resp.status_code == 200 and resp.get_json()["checklist"][0]["has_photo"] is True
    name = hashlib.sha256(PNG).hexdigest() + ".png"
    assert os.path.isfile(os.path.join(app.instance_path, "evidence", name))
    db.session.expire_all()
    assert db.session.get(ControlTask, created[0].id).checklist[0]["photo"] == name


def test_a_photo_that_is_not_jpeg_or_png_is_refused(client, world):
    created = _listed(world)
    token = token_of(client, "officer_a")
    fake = base64.b64encode(b"GIF89a" + b"\x00" * 20).decode()
    resp = _item(client, token, created[0].id, body={"lat": 1, "lng": 1, "photo_base64": fake})
    assert resp.status_code == 400 and resp.get_json()["fields"]["photo"] == "照片须为 JPEG 或 PNG 格式"
    big = base64.b64encode(PNG + b"\x00" * (5 * 1024 * 1024)).decode()
    resp = _item(client, token, created[0].id, body={"lat": 1, "lng": 1, "photo_base64": big})
    assert resp.status_code in (400, 413)


def test_alerts_list_and_close_through_the_api(client, world):
    _listed(world)
    token = token_of(client, "officer_a")
    rows = client.get("/api/v1/officer/alerts", headers=auth(token)).get_json()
    assert [r["kind"] for r in rows] == ["watch_hit"]
    alert_id = rows[0]["id"]
    resp = client.post(f"/api/v1/officer/alerts/{alert_id}/close", headers=auth(token, "c1"),
                       json={"outcome": "verified_on_site", "note": "已上门"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "closed"
    again = client.post(f"/api/v1/officer/alerts/{alert_id}/close", headers=auth(token, "c1"),
                        json={"outcome": "verified_on_site", "note": "已上门"})
    assert again.get_json() == resp.get_json()
    other = client.post(f"/api/v1/officer/alerts/{alert_id}/close", headers=auth(token, "c2"),
                        json={"outcome": "handled", "note": "再次"})
    assert other.status_code == 409


def test_another_stations_alert_cannot_be_closed(client, world):
    _listed(world)
    alert = db.session.execute(select(Alert)).scalar_one()
    token = token_of(client, "officer_b")
    resp = client.post(f"/api/v1/officer/alerts/{alert.id}/close", headers=auth(token, "x1"),
                       json={"outcome": "handled", "note": "x"})
    assert resp.status_code == 404
    db.session.refresh(alert)
    assert alert.status == "open"


def test_officer_operations_are_in_the_openapi_document_under_their_tag(client, db):
    spec = json.loads(client.get("/api/v1/openapi.json").get_data(as_text=True))
    assert "officerToken" in spec["components"]["securitySchemes"]
    op = spec["paths"]["/officer/tasks/{task_id}/items/{key}"]["post"]
    assert op["tags"] == ["officer"] and op["security"] == [{"officerToken": []}]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in op["parameters"])
    assert spec["paths"]["/officer/sign-in"]["post"]["security"] == []
