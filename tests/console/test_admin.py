"""Account administration by the system admin, and the audit log viewer for administrators."""
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, Officer
from app.services.accounts import audit
from tests.console.helpers import PASSWORD, login


def _officer(username):
    db.session.expire_all()
    return db.session.execute(select(Officer).where(Officer.username == username)).scalar_one()


def test_system_admin_creates_an_officer_who_can_then_sign_in(app, client, world):
    login(client, "sysadmin")
    area = world.a.jurisdiction["police_area"]
    resp = client.post("/console/officers", data={
        "username": "new_officer", "name": "新民警", "badge_number": "P0100", "role": "officer",
        "station_id": "", "police_area_id": str(area.id), "password": "Chushi-mima-2026"})
    assert resp.status_code == 302
    created = _officer("new_officer")
    assert (created.police_area_id, created.station_id) == (area.id, area.station_id)
    assert db.session.execute(select(AuditLog).where(
        AuditLog.action == "officer.create", AuditLog.object_id == created.id)).scalar_one()
    assert login(app.test_client(), "new_officer", "Chushi-mima-2026").status_code == 302


def test_officer_without_an_area_or_with_a_duplicate_name_is_refused(client, world):
    login(client, "sysadmin")
    base = {"name": "新民警", "badge_number": "P0101", "role": "officer", "station_id": "",
            "police_area_id": "", "password": "Chushi-mima-2026"}
    no_area = client.post("/console/officers", data={**base, "username": "x1"})
    assert no_area.status_code == 400 and "必须指定警务区" in no_area.get_data(as_text=True)
    dup = client.post("/console/officers", data={
        **base, "username": "officer_a",
        "police_area_id": str(world.a.jurisdiction["police_area"].id)})
    assert dup.status_code == 400 and "已被使用" in dup.get_data(as_text=True)


def test_system_admin_deactivates_and_resets_an_account(app, client, world):
    target = world.officers["officer_a"]
    login(client, "sysadmin")
    url = f"/console/officers/{target.id}"
    assert client.post(url, data={"toggle-submit": "y"}).status_code == 302
    assert _officer("officer_a").is_active is False
    assert login(app.test_client(), "officer_a").status_code == 401
    client.post(url, data={"toggle-submit": "y"})
    assert client.post(url, data={"reset-submit": "y",
                                  "reset-password": "Chongzhi-mima-99"}).status_code == 302
    assert login(app.test_client(), "officer_a", PASSWORD).status_code == 401
    assert login(app.test_client(), "officer_a", "Chongzhi-mima-99").status_code == 302
    actions = set(db.session.execute(select(AuditLog.action).where(
        AuditLog.object_type == "officer", AuditLog.object_id == target.id)).scalars())
    assert {"officer.deactivate", "officer.activate", "officer.reset_password"} <= actions


def test_system_admin_moves_an_officer_to_another_area(client, world):
    target = world.officers["officer_a"]
    area_b = world.b.jurisdiction["police_area"]
    login(client, "sysadmin")
    resp = client.post(f"/console/officers/{target.id}", data={
        "edit-submit": "y", "edit-role": "officer", "edit-station_id": "",
        "edit-police_area_id": str(area_b.id)})
    assert resp.status_code == 302
    moved = _officer("officer_a")
    assert (moved.police_area_id, moved.station_id) == (area_b.id, area_b.station_id)


def test_station_and_branch_admins_cannot_manage_accounts(client, world):
    for username in ("station_a", "branch"):
        login(client, username)
        assert client.get("/console/officers").status_code == 403
        client.post("/console/logout")


def test_audit_viewer_filters_by_action_officer_object_and_date(client, world):
    a, b = world.officers["officer_a"], world.officers["officer_b"]
    audit.record(a, "person.reveal_document", "person", 11, reason="核对")
    audit.record(b, "declaration.approve", "declaration", 22)
    db.session.commit()
    login(client, "branch")
    def get(**q):
        return client.get("/console/audit", query_string=q).get_data(as_text=True)

    reveal, approve = 'data-action="person.reveal_document"', 'data-action="declaration.approve"'
    assert reveal in get(action="person.") and "查看完整证件号码" in get(action="person.")
    assert approve not in get(action="person.")
    assert approve in get(actor=str(b.id))
    assert reveal not in get(object_type="declaration")
    assert reveal in get(object_id="11")
    assert reveal not in get(since="2999-01-01")
    assert client.get("/console/audit?since=notadate&page=-1").status_code == 200
