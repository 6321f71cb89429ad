"""Console 案前比对 and 漏登追溯: upload (inline and as a job), the decision with its evidence,
the trace-back close form, all scoped to the officer's area and audited."""
from __future__ import annotations

import io

from sqlalchemy import func, select

from app.extensions import db
from app.fakedata import FakeData
from app.models import AuditLog, CaseCheck, CaseImport, MissedRegistration
from tests.console.helpers import login
from tests.police.test_cases import HEADER

fake = FakeData(1213)


def _upload(client, body: str, name: str = "cases.csv"):
    return client.post("/console/cases/import",
                       data={"file": (io.BytesIO(body.encode()), name)},
                       content_type="multipart/form-data")


def _rows(world, n=2, station=None):
    code = (station or world.a).jurisdiction["station"].code
    return HEADER + "".join(f"居民身份证,{fake.resident_id()},涉案{i},AJ-{i},2026-11-20,{code},是\n"
                            for i in range(n))


def test_a_station_admin_uploads_and_the_same_file_again_changes_nothing(client, world):
    login(client, "station_a")
    body = _rows(world) + "居民身份证,110105194912310000,坏号,AJ-9,2026-11-20,X,是\n"
    resp = _upload(client, body)
    assert resp.status_code == 302 and "/console/cases/imports/" in resp.location
    page = client.get(resp.location).get_data(as_text=True)
    assert "新导入 2" in page and "第 4 行" in page and "证件号码" in page
    again = client.get(_upload(client, body).location).get_data(as_text=True)
    assert "新导入 0，未变 2" in again
    assert db.session.scalar(select(func.count(CaseCheck.id))) == 2
    assert db.session.scalar(select(func.count(AuditLog.id)).where(
        AuditLog.action == "case.import")) == 2
    listing = client.get("/console/cases?decision=no").get_data(as_text=True)
    assert listing.count("data-case=") == 2 and "漏登" in listing


def test_a_file_without_the_columns_is_refused_in_chinese(client, world):
    login(client, "station_a")
    resp = _upload(client, "姓名,证件号码\n张三,1\n")
    assert resp.status_code == 400 and "缺少列" in resp.get_data(as_text=True)
    resp = _upload(client, "x", name="cases.txt")
    assert resp.status_code == 400 and ".csv" in resp.get_data(as_text=True)


def test_a_plain_officer_may_not_upload(client, world):
    login(client, "officer_a")
    assert _upload(client, _rows(world)).status_code == 403


def test_case_persons_and_tasks_are_seen_only_in_the_own_area(client, world):
    login(client, "branch")
    _upload(client, _rows(world, 1))
    check = db.session.execute(select(CaseCheck)).scalar_one()
    task = db.session.execute(select(MissedRegistration)).scalar_one()
    client.post("/console/logout")
    login(client, "officer_b")
    assert client.get(f"/console/cases/{check.id}").status_code == 404
    assert client.get(f"/console/missed/{task.id}").status_code == 404
    assert client.post(f"/console/missed/{task.id}/close",
                       data={"outcome": "landlord"}).status_code == 404
    assert "data-missed=" not in client.get("/console/missed").get_data(as_text=True)
    client.post("/console/logout")
    login(client, "officer_a")
    page = client.get(f"/console/cases/{check.id}").get_data(as_text=True)
    assert "案前未登记" in page and f"/console/missed/{task.id}" in page
    assert f"data-missed=\"{task.id}\"" in client.get("/console/missed").get_data(as_text=True)


def test_closing_a_task_needs_the_text_for_other_and_is_audited(client, world):
    login(client, "station_a")
    _upload(client, _rows(world, 1))
    task = db.session.execute(select(MissedRegistration)).scalar_one()
    page = client.get(f"/console/missed/{task.id}").get_data(as_text=True)
    assert f'href="/console/penalties/new?missed={task.id}"' in page
    refused = client.post(f"/console/missed/{task.id}/close", data={"outcome": "other"})
    assert refused.status_code == 400 and "请填写情况说明" in refused.get_data(as_text=True)
    done = client.post(f"/console/missed/{task.id}/close",
                       data={"outcome": "not_found", "note": "多次上门未见",
                             "address_text": "某路1号"}, follow_redirects=True)
    assert "已办结" in done.get_data(as_text=True) and "查无此人" in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(MissedRegistration, task.id).status == "resolved"
    assert db.session.scalar(select(func.count(AuditLog.id)).where(
        AuditLog.action == "missed.close", AuditLog.object_id == task.id)) == 1


def test_a_large_upload_runs_as_a_job_and_its_page_refreshes_while_running(
        client, world, app, run_jobs, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CASE_IMPORT_INLINE_ROWS", 2)
    monkeypatch.setitem(app.config, "CASE_IMPORT_FOLDER", str(tmp_path))
    login(client, "station_a")
    resp = _upload(client, _rows(world, 4))
    run_jobs()
    page = client.get(resp.location).get_data(as_text=True)
    assert 'data-status="done"' in page and "已处理 4 / 4 行" in page
    assert 'http-equiv="refresh"' not in page
    record = CaseImport(officer_id=world.officers["station_admin_a"].id, filename="big.csv",
                        status="running", total=10, processed=4, imported=4, unchanged=0,
                        missed=4, error_count=0)
    db.session.add(record)
    db.session.commit()
    page = client.get(f"/console/cases/imports/{record.id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' in page and "40%" in page
    client.post("/console/logout")
    login(client, "officer_a")
    assert client.get(f"/console/cases/imports/{record.id}").status_code == 403


def test_a_spot_check_miss_is_in_the_same_list_and_detail(client, world):
    from app.services.police import spot_checks

    spot_checks.record_spot_check(world.officers["officer_a"], world.a.house, [{
        "document_type": "resident_id", "document_number": fake.resident_id(),
        "name": "李抽查", "room": "101"}])
    db.session.commit()
    task = db.session.execute(select(MissedRegistration)).scalar_one()
    assert task.source == "spot_check"
    login(client, "officer_a")
    listing = client.get("/console/missed?source=spot_check").get_data(as_text=True)
    assert f'data-missed="{task.id}"' in listing and "李*查" in listing
    page = client.get(f"/console/missed/{task.id}").get_data(as_text=True)
    assert 'id="spot-check-link"' in page and world.a.house.address.full_text in page
    assert "data-missed=" not in client.get("/console/missed?source=case").get_data(as_text=True)
