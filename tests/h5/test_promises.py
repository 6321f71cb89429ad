"""What the pages promise happens: the old landlord is asked at once, every rejected declaration
can be corrected, a vacant house can be marked, a typed address reaches a station (issue 14)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.fakedata import FakeData
from app.models import Declaration, House, Reminder, WeChatUser
from tests.factories import make_address, make_jurisdiction
from tests.h5.test_pages import get, house_form, sign_in
from wechat.sandbox import store

fake = FakeData(1414)


@pytest.fixture()
def no_quiet_hours(app):
    """Pushes go out whatever the wall clock says (quiet hours are tested in test_reminders)."""
    saved = app.config["REMINDER_QUIET_START"], app.config["REMINDER_QUIET_END"]
    app.config["REMINDER_QUIET_START"] = app.config["REMINDER_QUIET_END"] = "00:00"
    yield
    app.config["REMINDER_QUIET_START"], app.config["REMINDER_QUIET_END"] = saved


@pytest.fixture()
def place(db):
    place = make_jurisdiction()
    place["addresses"] = [make_address(place["community"]) for _ in range(3)]
    db.session.commit()
    return place


def register(client, db, address) -> House:
    client.post(f"/h5/a/{address.qr_token}/house", data=house_form(address))
    return db.session.execute(select(House).where(House.address_id == address.id)).scalar_one()


def move_in_form(person: dict, start: str | None = None) -> dict:
    return {"rows": "1", "tenants-0-name": person["name"], "tenants-0-document_type": "resident_id",
            "tenants-0-document_number": person["document_number"],
            "tenants-0-start_date": start or date.today().isoformat()}


def test_move_in_of_a_tenant_live_elsewhere_pushes_the_old_landlord_at_once(
        app, db, place, run_jobs, no_quiet_hours):
    old_client, new_client = app.test_client(), app.test_client()
    old_openid = sign_in(old_client, "原房东")
    sign_in(new_client, "新房东")
    old_house = register(old_client, db, place["addresses"][0])
    new_house = register(new_client, db, place["addresses"][1])
    person = {"name": fake.name(), "document_number": fake.resident_id()}
    old_client.post(f"/h5/houses/{old_house.id}/move-in", data=move_in_form(person))
    run_jobs()
    before = len(store.sent_messages(old_openid))

    receipt = new_client.post(f"/h5/houses/{new_house.id}/move-in", data=move_in_form(person),
                              follow_redirects=True)
    run_jobs()  # the validation job, then the push it queued after its commit: no sweep runs
    db.session.expire_all()
    declaration = db.session.execute(select(Declaration).where(
        Declaration.house_id == new_house.id, Declaration.kind == "move_in")).scalar_one()
    reminder = db.session.execute(select(Reminder).where(
        Reminder.rule == "move_out_confirm")).scalar_one()
    assert reminder.status == "sent" and reminder.sent_at is not None
    pushed = store.sent_messages(old_openid)  # newest first
    assert len(pushed) == before + 1 and "租客退租确认提醒" in str(pushed[0])
    # And the new landlord's page tells the truth, and an officer must look at it.
    page = get(new_client, f"/h5/declarations/{declaration.id}").get_data(as_text=True)
    assert "已请原房东确认退租" in page
    assert declaration.status == "needs_review"
    assert receipt.status_code == 200


# -- every reminder can be settled from the page it links to ----------------------------------------

def _officer(place):
    from app.models import Officer
    from tests.console.helpers import PASSWORD, create_officer

    found = db_session().execute(select(Officer).where(
        Officer.username == f"po{place['station'].id}")).scalar()
    return found or create_officer(password=PASSWORD, username=f"po{place['station'].id}", name="民警",
                          badge_number=f"P{place['station'].id}", role="station_admin",
                          branch_id=place["branch"].id, station_id=place["station"].id)


def db_session():
    from app.extensions import db

    return db.session


def _reject(db, place, declaration_id: int) -> Declaration:
    from app.services.declarations import review

    declaration = db.session.get(Declaration, declaration_id)
    if declaration.status in ("received", "validating"):
        declaration.transition("needs_review", "worker")
    review.reject(declaration, _officer(place), "信息有误，请更正")
    db.session.commit()
    return declaration


def _latest(db, kind: str) -> Declaration:
    return db.session.execute(select(Declaration).where(Declaration.kind == kind)
                              .order_by(Declaration.id.desc())).scalars().first()


def test_landlord_marks_an_empty_house_vacant_and_back_from_its_page(client, db, place):
    sign_in(client, "房东")
    house = register(client, db, place["addresses"][0])
    page = get(client, f"/h5/houses/{house.id}").get_data(as_text=True)
    assert 'data-testid="vacancy-form"' in page and "房屋空置" in page
    resp = client.post(f"/h5/houses/{house.id}/vacancy", data={"vacant": "1"},
                       follow_redirects=True)
    assert "已标记为空置" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(House, house.id).is_vacant is True
    client.post(f"/h5/houses/{house.id}/vacancy", data={"vacant": "0"})
    db.session.expire_all()
    assert db.session.get(House, house.id).is_vacant is False


def test_a_house_with_live_tenants_cannot_be_marked_vacant(client, db, place, run_jobs):
    sign_in(client, "房东")
    house = register(client, db, place["addresses"][0])
    client.post(f"/h5/houses/{house.id}/move-in",
                data=move_in_form({"name": fake.name(), "document_number": fake.resident_id()}))
    run_jobs()
    resp = client.post(f"/h5/houses/{house.id}/vacancy", data={"vacant": "1"})
    assert resp.status_code == 400 and "仍有登记在住的租客" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(House, house.id).is_vacant is False


def test_vacancy_stops_the_undeclared_tenant_reminder(client, db, place):
    from datetime import timedelta

    from app.models import utcnow
    from app.services.reminders import rules, sweep

    sign_in(client, "房东")
    house = register(client, db, place["addresses"][0])
    later = utcnow() + timedelta(days=5)
    for _ in sweep.sweep(later, rules.Settings()):
        db.session.commit()
    [reminder] = db.session.execute(select(Reminder).where(
        Reminder.rule == "house_undeclared")).scalars().all()
    assert reminder.link == f"/h5/houses/{house.id}"  # the page that now has the control
    client.post(f"/h5/houses/{house.id}/vacancy", data={"vacant": "1"})
    for _ in sweep.sweep(later, rules.Settings()):
        db.session.commit()
    db.session.expire_all()
    assert db.session.get(Reminder, reminder.id).status == "answered"


def test_rejected_house_registration_is_corrected_from_its_page(client, db, place, run_jobs):
    sign_in(client, "房东")
    house = register(client, db, place["addresses"][0])
    run_jobs()
    original = _reject(db, place, _latest(db, "house").id)
    page = get(client, f"/h5/declarations/{original.id}").get_data(as_text=True)
    assert 'data-testid="correction-form"' in page and "房间数" in page
    resp = client.post(f"/h5/declarations/{original.id}", data={"rooms": "5"},
                       follow_redirects=True)
    assert "申报已提交" in resp.get_data(as_text=True)
    db.session.expire_all()
    correction = _latest(db, "correction")
    assert correction.corrects_id == original.id and correction.house_id == house.id
    assert (correction.payload["before"]["rooms"], correction.payload["after"]["rooms"]) == (2, 5)
    assert db.session.get(House, house.id).rooms == 5


def test_rejected_self_declaration_is_corrected_and_proposed_again(app, db, place, run_jobs):
    from app.models import Residence

    landlord, tenant = app.test_client(), app.test_client()
    sign_in(landlord, "房东")
    register(landlord, db, place["addresses"][0])
    sign_in(tenant, "租客")
    tenant.post(f"/h5/a/{place['addresses'][0].qr_token}/self", data={
        "me-name": fake.name(), "me-document_type": "resident_id",
        "me-document_number": fake.resident_id(), "me-start_date": date.today().isoformat()})
    run_jobs()
    original = _reject(db, place, _latest(db, "self").id)
    residence = db.session.execute(select(Residence).where(
        Residence.declaration_id == original.id)).scalar_one()
    assert residence.status == "ended"  # the rejection withdrew it
    page = get(tenant, f"/h5/declarations/{original.id}").get_data(as_text=True)
    assert 'data-testid="correction-form"' in page
    resp = tenant.post(f"/h5/declarations/{original.id}",
                       data={"residence_id": str(residence.id), "room": "次卧"},
                       follow_redirects=True)
    assert "申报已提交" in resp.get_data(as_text=True)
    run_jobs()
    db.session.expire_all()
    correction = _latest(db, "correction")
    assert correction.corrects_id == original.id and correction.submitter_role == "tenant"
    residence = db.session.get(Residence, residence.id)
    assert residence.room == "次卧" and residence.declaration_id == correction.id
    assert residence.status in ("pending", "active") and residence.active_slot == 1


def _employer(client, db, place):
    import re

    resp = client.post(f"/h5/a/{place['addresses'][0].qr_token}/employer", data={
        "name": "测试公司", "uscc": fake.uscc(), "contact_name": "王",
        "contact_phone": fake.mobile()}, follow_redirects=True)
    return int(re.search(r"/h5/employers/(\d+)", resp.request.path).group(1))


def test_rejected_employer_registration_is_corrected(client, db, place, run_jobs):
    from app.models import Employer

    sign_in(client, "老板")
    employer_id = _employer(client, db, place)
    run_jobs()
    original = _reject(db, place, _latest(db, "employer").id)
    resp = client.post(f"/h5/declarations/{original.id}", data={"name": "测试有限公司"},
                       follow_redirects=True)
    assert "申报已提交" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Employer, employer_id).name == "测试有限公司"
    correction = _latest(db, "correction")
    assert correction.corrects_id == original.id and correction.employer_id == employer_id


def test_rejected_hire_and_leave_are_corrected(client, db, place, run_jobs):
    from app.models import Employment

    sign_in(client, "老板")
    employer_id = _employer(client, db, place)
    client.post(f"/h5/employers/{employer_id}", data={
        "workers-0-name": "工人丁", "workers-0-document_number": fake.resident_id(),
        "workers-0-start_date": date.today().isoformat()})
    run_jobs()
    hire = _reject(db, place, _latest(db, "hire").id)
    employment = db.session.execute(select(Employment).where(
        Employment.declaration_id == hire.id)).scalar_one()
    resp = client.post(f"/h5/declarations/{hire.id}", data={
        "employment_id": str(employment.id), "job": "厨师",
        "dormitory_qr_token": place["addresses"][1].qr_token}, follow_redirects=True)
    assert "申报已提交" in resp.get_data(as_text=True)
    run_jobs()
    db.session.expire_all()
    employment = db.session.get(Employment, employment.id)
    assert employment.job == "厨师" and employment.dormitory_house_id is not None
    assert employment.active_slot == 1  # proposed again by the correction

    client.post(f"/h5/employers/{employer_id}", data={
        "action": "leave", "employment_ids": str(employment.id),
        "end_date": date.today().isoformat()})
    run_jobs()
    leave = _reject(db, place, _latest(db, "leave").id)
    page = get(client, f"/h5/declarations/{leave.id}").get_data(as_text=True)
    assert "离职日期" in page
    later = date.fromordinal(date.today().toordinal() + 1).isoformat()
    refused = client.post(f"/h5/declarations/{leave.id}", data={"end_date": "2000-01-01"})
    assert refused.status_code == 400 and "离职日期不能早于入职日期" in refused.get_data(as_text=True)
    fixed = client.post(f"/h5/declarations/{leave.id}", data={"end_date": later},
                        follow_redirects=True)
    assert "申报已提交" in fixed.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Employment, employment.id).end_date.isoformat() == later
    assert _latest(db, "correction").corrects_id == leave.id


def test_a_correction_with_nothing_changed_is_refused_with_a_message(client, db, place, run_jobs):
    sign_in(client, "房东")
    register(client, db, place["addresses"][0])
    run_jobs()
    original = _reject(db, place, _latest(db, "house").id)
    resp = client.post(f"/h5/declarations/{original.id}", data={})
    assert resp.status_code == 400 and "请至少填写一项要更正的内容" in resp.get_data(as_text=True)



# -- typed addresses ----------------------------------------------------------------------------

def test_tenant_types_an_address_picks_a_candidate_and_declares_at_that_house(app, db, place,
                                                                             run_jobs):
    from app.services.registry.address_match import scope_cache

    scope_cache.clear()  # ids repeat between tests; a worker's cache lives 5 minutes
    landlord, tenant = app.test_client(), app.test_client()
    sign_in(landlord, "房东")
    target = place["addresses"][1]
    house = register(landlord, db, target)
    sign_in(tenant, "租客")
    assert "手填地址" in get(tenant, "/").get_data(as_text=True)
    page = get(tenant, "/h5/self").get_data(as_text=True)
    assert place["community"].name in page  # the community picker
    me = {"me-name": fake.name(), "me-document_type": "resident_id",
          "me-document_number": fake.resident_id(), "me-phone": fake.mobile(),
          "me-start_date": date.today().isoformat()}
    typed = target.full_text.replace("幢", "栋").replace("室", "")
    found = tenant.post("/h5/self", data={"community_id": str(place["community"].id),
                                          "address_text": typed, "find": "1", **me})
    html = found.get_data(as_text=True)
    assert found.status_code == 200 and 'data-testid="candidates"' in html
    assert f'value="{target.id}"' in html and me["me-name"] in html  # what was typed stays
    done = tenant.post("/h5/self", data={"community_id": str(place["community"].id),
                                         "address_text": typed, "address_id": str(target.id),
                                         **me}, follow_redirects=True)
    assert "申报已提交" in done.get_data(as_text=True)
    declaration = _latest(db, "self")
    assert declaration.house_id == house.id and declaration.submitter_role == "tenant"


def test_typed_address_without_a_community_is_refused_next_to_the_picker(client, db, place):
    sign_in(client, "租客")
    resp = client.post("/h5/self", data={"address_text": "某路1号", "find": "1"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "请选择所在社区" in html
