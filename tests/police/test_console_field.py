"""Console field-work pages: watch list (who sees it, 列管/撤管 audited, import upload), control
tasks completed item by item, checklist templates, alerts closed with an outcome."""
from __future__ import annotations

import io

from sqlalchemy import select

from app.extensions import db
from app.models import Alert, AuditLog, ChecklistTemplate, ControlTask, Watch
from app.services.police import watch
from tests.console.helpers import DOCUMENTS, login

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _listed():
    entry, created = watch.list_person(document_type="居民身份证", document_number=DOCUMENTS["A"],
                                       name="A租客甲", category="重点人员", source="市局下发")
    db.session.commit()
    return entry, created


def test_station_admin_sees_the_watch_list_and_a_plain_officer_only_own_tasks(client, world):
    _listed()
    login(client, "station_a")
    page = client.get("/console/watch").get_data(as_text=True)
    assert "重点人员" in page and "A**甲" in page and DOCUMENTS["A"] not in page
    client.post("/console/logout")
    login(client, "officer_b")
    assert "重点人员" not in client.get("/console/watch").get_data(as_text=True)
    client.post("/console/logout")
    login(client, "officer_a")  # owns the tasks: sees that one listed person
    assert "重点人员" in client.get("/console/watch").get_data(as_text=True)


def test_a_plain_officer_cannot_list_or_delist(client, world):
    entry, _ = _listed()
    login(client, "officer_a")
    resp = client.post("/console/watch", data={"document_type": "resident_id",
                                               "document_number": DOCUMENTS["B"], "name": "x",
                                               "category": "c", "source": "s", "reason": "r"})
    assert resp.status_code == 403
    assert client.post(f"/console/watch/{entry.id}/delist",
                       data={"reason": "x"}).status_code == 403
    assert client.get("/console/watch/import").status_code == 403


def test_manual_listing_is_audited_and_opens_tasks(client, world):
    login(client, "station_a")
    resp = client.post("/console/watch", data={
        "document_type": "resident_id", "document_number": DOCUMENTS["A"], "name": "A租客甲",
        "category": "重点人员", "source": "派出所", "reason": "上级通报"})
    assert resp.status_code == 302
    row = db.session.execute(select(AuditLog).where(AuditLog.action == "watch.list")).scalar_one()
    assert row.reason == "上级通报" and row.detail["tasks"] == 2


def test_manual_listing_with_a_bad_number_says_why(client, world):
    login(client, "station_a")
    resp = client.post("/console/watch", data={
        "document_type": "resident_id", "document_number": "110105194912310000", "name": "某",
        "category": "重点人员", "source": "派出所", "reason": "r"})
    assert resp.status_code == 400 and "请核对最后一位" in resp.get_data(as_text=True)


def test_delisting_needs_a_reason_and_is_audited(client, world):
    entry, created = _listed()
    login(client, "station_a")
    client.post(f"/console/watch/{entry.id}/delist", data={"reason": ""})
    db.session.refresh(entry)
    assert entry.delisted_at is None
    client.post(f"/console/watch/{entry.id}/delist", data={"reason": "解除管控"})
    db.session.refresh(entry)
    assert entry.delist_reason == "解除管控"
    assert db.session.execute(select(AuditLog.reason).where(
        AuditLog.action == "watch.delist")).scalar_one() == "解除管控"


def test_watch_import_upload_reports_lines(client, world):
    login(client, "station_a")
    data = ("证件类型,证件号码,姓名,类别,来源,列管日期\n"
            f"居民身份证,{DOCUMENTS['A']},A租客甲,重点人员,市局,2026-11-01\n"
            "居民身份证,123,坏,重点人员,市局,2026-11-01\n").encode()
    resp = client.post("/console/watch/import",
                       data={"file": (io.BytesIO(data), "w.csv")},
                       content_type="multipart/form-data")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "新列管 1" in text and "第 3 行" in text
    assert db.session.execute(select(Watch)).scalar_one().category == "重点人员"


def test_officer_completes_an_item_on_the_task_page(client, world):
    _, created = _listed()
    login(client, "officer_a")
    page = client.get(f"/console/tasks/{created[0].id}").get_data(as_text=True)
    assert "见人：见到本人" in page and "field.js" in page
    resp = client.post(f"/console/tasks/{created[0].id}/items/see_person",
                       data={"lat": "24.48", "lng": "118.09", "note": "见到",
                             "photo": (io.BytesIO(PNG), "p.png")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302
    db.session.expire_all()
    item = db.session.get(ControlTask, created[0].id).checklist[0]
    assert (item["lat"], item["officer_name"], item["channel"]) == (24.48, "甲民警", "console")
    photo = client.get(f"/console/tasks/{created[0].id}/photos/{item['photo']}")
    assert photo.status_code == 200 and photo.data == PNG


def test_an_item_without_gps_or_reason_is_refused_in_chinese(client, world):
    _, created = _listed()
    login(client, "officer_a")
    resp = client.post(f"/console/tasks/{created[0].id}/items/see_person", data={"note": "x"})
    assert resp.status_code == 400 and "未获取到定位，请说明原因" in resp.get_data(as_text=True)


def test_another_stations_task_and_photo_are_not_found(client, world):
    _, created = _listed()
    login(client, "officer_b")
    assert client.get(f"/console/tasks/{created[0].id}").status_code == 404
    assert client.post(f"/console/tasks/{created[0].id}/items/see_person",
                       data={"lat": "1", "lng": "1"}).status_code == 404
    assert client.get("/console/tasks").status_code == 200


def test_branch_admin_edits_a_template_as_a_new_version(client, world):
    login(client, "branch")
    assert "五见" in client.get("/console/checklists").get_data(as_text=True)
    five = db.session.execute(select(ChecklistTemplate).where(
        ChecklistTemplate.name == "五见")).scalar_one()
    resp = client.post("/console/checklists", data={
        "template_id": five.id, "key_0": "see_person", "label_0": "见人", "days_0": "3",
        "label_1": "见证件", "days_1": "5"})
    assert resp.status_code == 302
    versions = db.session.execute(select(ChecklistTemplate.version).where(
        ChecklistTemplate.name == "五见").order_by(ChecklistTemplate.version)).scalars().all()
    assert versions == [1, 2]
    bad = client.post("/console/checklists", data={"template_id": five.id + 2,
                                                   "label_0": "见人", "days_0": "0"})
    assert bad.status_code in (400, 404)


def test_station_admin_cannot_edit_templates(client, world):
    login(client, "station_a")
    assert client.get("/console/checklists").status_code == 403


def test_alert_is_closed_with_outcome_and_note(client, world):
    _listed()
    alert = db.session.execute(select(Alert)).scalar_one()
    login(client, "officer_a")
    assert "关注人员入住/就业" in client.get("/console/alerts").get_data(as_text=True)
    page = client.get(f"/console/alerts/{alert.id}").get_data(as_text=True)
    assert "甲民警" in page  # the owner
    assert client.post(f"/console/alerts/{alert.id}/close",
                       data={"outcome": "handled", "note": ""}).status_code == 400
    resp = client.post(f"/console/alerts/{alert.id}/close",
                       data={"outcome": "verified_on_site", "note": "已上门"})
    assert resp.status_code == 302
    db.session.refresh(alert)
    assert (alert.status, alert.outcome, alert.close_note) == ("closed", "已上门核实", "已上门")


def test_another_stations_alert_is_not_found(client, world):
    _listed()
    alert = db.session.execute(select(Alert)).scalar_one()
    login(client, "officer_b")
    assert client.get(f"/console/alerts/{alert.id}").status_code == 404
    assert client.post(f"/console/alerts/{alert.id}/close",
                       data={"outcome": "handled", "note": "x"}).status_code == 404
