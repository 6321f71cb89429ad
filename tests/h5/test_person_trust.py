"""A WeChat user is a Person only by proof; declarations propose, never overwrite; a tenant's
self-declaration waits for the landlord (DESIGN §8). Every attack goes through the H5 pages, the
console or the API, as an attacker would."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.fakedata import FakeData
from app.models import (
    AuditLog, Declaration, House, Person, PersonChange, PushMessage, Residence, WeChatUser, utcnow,
)
from app.services.people.people import find_person
from tests.console.helpers import PASSWORD, create_officer, login
from tests.factories import make_address, make_jurisdiction
from tests.h5.test_pages import get, house_form, pass_real_name, sign_in
from wechat.sandbox import store

fake = FakeData(1010)


@pytest.fixture()
def place(db):
    where = make_jurisdiction()
    addresses = [make_address(where["community"]) for _ in range(3)]
    db.session.commit()
    return {"addresses": addresses, **where}


def drain(app) -> None:
    """Run queued jobs as a worker would (real Redis); inline mode has already run them."""
    if not app.config.get("REDIS_URL"):
        return
    from rq import SimpleWorker

    from app.extensions import db
    from app.redis_conn import get_redis
    from workers.queues import JOB_SERIALIZER, QUEUE_NAMES, get_queue

    db.session.commit()
    with app.app_context():
        SimpleWorker([get_queue(n) for n in QUEUE_NAMES], connection=get_redis(),
                     serializer=JOB_SERIALIZER).work(burst=True)
        db.session.remove()
    db.session.expire_all()


def phone_user(app, nickname):
    """A second phone: its own test client signed in as a fresh sandbox WeChat user."""
    client = app.test_client()
    openid = sign_in(client, nickname)
    return client, openid


def wechat_user(db, openid) -> WeChatUser:
    db.session.expire_all()
    return db.session.execute(select(WeChatUser).where(WeChatUser.openid == openid)).scalar_one()


def register(client, address, **over):
    resp = client.post(f"/h5/a/{address.qr_token}/house", data=house_form(address, **over))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    drain(client.application)
    return int(resp.headers["Location"].split("/h5/houses/")[1].split("/")[0])


def move_in(client, house_id, name, number, phone=None):
    data = {"tenants-0-name": name, "tenants-0-document_type": "resident_id",
            "tenants-0-document_number": number, "tenants-0-start_date": date.today().isoformat()}
    if phone:
        data["tenants-0-phone"] = phone
    resp = client.post(f"/h5/houses/{house_id}/move-in", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    drain(client.application)
    return int(resp.headers["Location"].split("/h5/declarations/")[1].split("?")[0])


def self_declare(client, address, name, number):
    resp = client.post(f"/h5/a/{address.qr_token}/self", data={
        "me-name": name, "me-document_type": "resident_id", "me-document_number": number,
        "me-phone": fake.mobile(), "me-start_date": date.today().isoformat()})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    drain(client.application)
    return int(resp.headers["Location"].split("/h5/declarations/")[1].split("?")[0])


def officer_client(app, db, place, role="branch_admin", username="linker"):
    create_officer(username=username, password=PASSWORD, name="核验民警",
                   badge_number=f"B{username}", role=role, branch_id=place["branch"].id,
                   station_id=place["station"].id if role != "branch_admin" else None,
                   police_area_id=place["police_area"].id if role == "officer" else None)
    db.session.commit()
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


# -- 1. a document number is not a person ------------------------------------------------------

def test_naming_someones_id_as_house_owner_shows_the_attacker_none_of_their_houses(app, db,
                                                                                  place):
    victim, victim_openid = phone_user(app, "房东本人")
    number = fake.resident_id()
    victim_house = register(victim, place["addresses"][0], **{"owner-document_number": number})
    pass_real_name(victim, "房东甲", number)  # the victim proves who they are
    attacker, attacker_openid = phone_user(app, "冒充者")
    register(attacker, place["addresses"][1], **{"owner-document_number": number,
                                                 "owner-name": "冒充者"})
    assert wechat_user(db, attacker_openid).person_id is None
    assert get(attacker, f"/h5/houses/{victim_house}").status_code == 404
    listing = get(attacker, "/h5/houses").get_data(as_text=True)
    assert place["addresses"][0].full_text not in listing
    assert place["addresses"][1].full_text in listing  # what the attacker submitted, only
    assert get(victim, f"/h5/houses/{victim_house}").status_code == 200


def test_self_declaring_with_someones_number_does_not_reveal_their_residences(app, db, place):
    landlord, _ = phone_user(app, "房东")
    house_id = register(landlord, place["addresses"][0])
    victim_number = fake.resident_id()
    move_in(landlord, house_id, "真租客", victim_number)
    other_landlord, _ = phone_user(app, "另一房东")
    register(other_landlord, place["addresses"][1])
    attacker, attacker_openid = phone_user(app, "冒充者")
    self_declare(attacker, place["addresses"][1], "真租客", victim_number)
    assert wechat_user(db, attacker_openid).person_id is None
    page = get(attacker, "/h5/me").get_data(as_text=True)
    assert place["addresses"][0].full_text not in page and "尚未完成实名关联" in page


def test_typing_the_tenants_number_no_longer_confirms_a_landlords_declaration(app, db, place):
    landlord, _ = phone_user(app, "房东")
    house_id = register(landlord, place["addresses"][0])
    number = fake.resident_id()
    declaration_id = move_in(landlord, house_id, "租客丙", number)
    code = db.session.get(Declaration, declaration_id).receipt_code
    attacker, attacker_openid = phone_user(app, "冒充者")
    page = get(attacker, f"/h5/confirm/{code}").get_data(as_text=True)
    assert "请先完成实名核验" in page and "document_number" not in page
    typed = attacker.post(f"/h5/confirm/{code}", data={"document_number": number})
    assert typed.status_code == 302 and "/h5/me/real-name" in typed.headers["Location"]
    assert wechat_user(db, attacker_openid).person_id is None
    db.session.expire_all()
    assert all(e.note != "租客已确认" for e in db.session.get(Declaration, declaration_id).events)


# -- 1a. the real-name check ---------------------------------------------------------------------

def test_sandbox_real_name_check_links_the_user_to_the_person(app, db, place):
    landlord, _ = phone_user(app, "房东")
    house_id = register(landlord, place["addresses"][0])
    number = fake.resident_id()
    move_in(landlord, house_id, "租客丁", number)
    tenant, openid = phone_user(app, "租客丁")
    page = pass_real_name(tenant, "租客丁", number).get_data(as_text=True)
    user = wechat_user(db, openid)
    assert user.person_id == find_person("resident_id", number).id
    assert user.person_link_method == "real_name" and user.person_linked_at is not None
    assert place["addresses"][0].full_text in page


def test_real_name_check_the_tester_refuses_links_nobody(app, db, place):
    tenant, openid = phone_user(app, "租客")
    number = fake.resident_id()
    page = pass_real_name(tenant, "租客戊", number, decision="fail")
    assert page.status_code == 400 and "实名核验未通过" in page.get_data(as_text=True)
    assert wechat_user(db, openid).person_id is None


def test_another_users_real_name_ticket_proves_nothing(app, db, place):
    victim, _ = phone_user(app, "本人")
    started = victim.post("/h5/me/real-name", data={"name": "本人", "document_number":
                                                     fake.resident_id()})
    sandbox_url = started.headers["Location"]
    back = victim.post(sandbox_url, data={"decision": "pass"}).headers["Location"]
    attacker, attacker_openid = phone_user(app, "冒充者")
    stolen = attacker.get(back)
    assert stolen.status_code == 400 and "实名核验已过期" in stolen.get_data(as_text=True)
    assert wechat_user(db, attacker_openid).person_id is None


def test_sandbox_real_name_page_refuses_a_post_without_csrf_token(app, db, place, monkeypatch):
    tenant, _ = phone_user(app, "租客")
    started = tenant.post("/h5/me/real-name", data={"name": "租客", "document_number":
                                                     fake.resident_id()})
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    refused = tenant.post(started.headers["Location"], data={"decision": "pass"})
    assert refused.status_code == 400 and "页面已过期" in refused.get_data(as_text=True)


def test_real_name_check_not_opened_sends_the_user_to_the_station(app, db, place, monkeypatch):
    from wechat.realname import WeChatRealNameNotOpened

    monkeypatch.setitem(app.extensions, "anju_real_name_check", WeChatRealNameNotOpened())
    tenant, openid = phone_user(app, "租客")
    resp = tenant.post("/h5/me/real-name", data={"name": "租客", "document_number":
                                                  fake.resident_id()})
    assert resp.status_code == 400 and "未开通" in resp.get_data(as_text=True)
    assert wechat_user(db, openid).person_id is None


def test_factory_wires_the_sandbox_check_in_development_and_not_opened_in_production():
    from app import register_ports
    from wechat.realname import WeChatRealNameNotOpened
    from wechat.sandbox.realname import SandboxRealNameCheck

    dev, prod = Flask("dev"), Flask("prod")
    dev.config["WECHAT_SANDBOX"], prod.config["WECHAT_SANDBOX"] = True, False
    register_ports(dev)
    register_ports(prod)
    assert isinstance(dev.extensions["anju_real_name_check"], SandboxRealNameCheck)
    assert isinstance(prod.extensions["anju_real_name_check"], WeChatRealNameNotOpened)


# -- 1b. officer linking -------------------------------------------------------------------------

def test_officer_links_the_wechat_user_showing_a_code_with_a_reason_audited(app, db, place):
    landlord, _ = phone_user(app, "房东")
    house_id = register(landlord, place["addresses"][0])
    number = fake.resident_id()
    move_in(landlord, house_id, "租客己", number)
    tenant, openid = phone_user(app, "租客己")
    me = get(tenant, "/h5/me").get_data(as_text=True)
    code = wechat_user(db, openid).link_code
    assert code and code in me
    person = find_person("resident_id", number)
    console = officer_client(app, db, place)
    url = f"/console/persons/{person.id}/link"
    short = console.post(url, data={"code": code, "reason": "看"})
    assert short.status_code == 400 and wechat_user(db, openid).person_id is None
    wrong = console.post(url, data={"code": "ZZZZZZZZ", "reason": "已核验身份证原件"})
    assert wrong.status_code == 400 and "关联码无效" in wrong.get_data(as_text=True)
    ok = console.post(url, data={"code": code.lower(), "reason": "已核验身份证原件"})
    assert ok.status_code == 200 and "已关联微信用户" in ok.get_data(as_text=True)
    user = wechat_user(db, openid)
    assert (user.person_id, user.person_link_method, user.link_code) == (person.id, "officer",
                                                                         None)
    row = db.session.execute(select(AuditLog).where(
        AuditLog.action == "person.link_wechat")).scalar_one()
    assert (row.object_id, row.reason, row.detail) == (person.id, "已核验身份证原件",
                                                       {"wechat_user_id": user.id})
    assert place["addresses"][0].full_text in get(tenant, "/h5/me").get_data(as_text=True)


def test_officer_of_another_station_cannot_link_a_person_outside_the_area(app, db, place):
    landlord, _ = phone_user(app, "房东")
    house_id = register(landlord, place["addresses"][0])
    number = fake.resident_id()
    move_in(landlord, house_id, "租客庚", number)
    tenant, openid = phone_user(app, "租客庚")
    get(tenant, "/h5/me")
    code = wechat_user(db, openid).link_code
    elsewhere = make_jurisdiction("Z")
    db.session.commit()
    create_officer(username="far", password=PASSWORD, name="外所民警", badge_number="F0001",
                   role="officer", branch_id=elsewhere["branch"].id,
                   station_id=elsewhere["station"].id, police_area_id=elsewhere["police_area"].id)
    db.session.commit()
    console = app.test_client()
    login(console, "far")
    person = find_person("resident_id", number)
    resp = console.post(f"/console/persons/{person.id}/link",
                        data={"code": code, "reason": "已核验身份证原件"})
    assert resp.status_code == 404 and wechat_user(db, openid).person_id is None


# -- 2. declarations propose, they don't overwrite ----------------------------------------------

def test_declaring_an_existing_number_does_not_overwrite_name_and_phone(app, db, place):
    landlord, _ = phone_user(app, "房东")
    house_id = register(landlord, place["addresses"][0])
    number, real_phone = fake.resident_id(), fake.mobile()
    move_in(landlord, house_id, "真名字", number, phone=real_phone)
    attacker, _ = phone_user(app, "另一房东")
    other_house = register(attacker, place["addresses"][1])
    fake_phone = "13912345678"
    declaration_id = move_in(attacker, other_house, "假名字", number, phone=fake_phone)
    db.session.expire_all()
    person = find_person("resident_id", number)
    assert person.name == "真名字" and person.phone_masked == real_phone[:3] + "****" + real_phone[-4:]
    declaration = db.session.get(Declaration, declaration_id)
    assert declaration.status == "needs_review"
    messages = " ".join(r["message"] for r in declaration.reasons)
    assert "申报的姓名与该人员在其他房屋的登记不一致" in messages and "手机号码" in messages
    tenant = declaration.payload["tenants"][0]
    assert tenant["name"] == "假名字" and tenant["phone_masked"] == "139****5678"
    assert set(tenant["proposed"]) == {"name", "phone"}
    assert fake_phone not in str(declaration.payload)
    assert db.session.execute(select(func.count()).select_from(PersonChange).where(
        PersonChange.status == "applied")).scalar_one() == 0
    # Nor does typing the number reveal the name on record: the landlord sees what they typed.
    for path in (f"/h5/houses/{other_house}", f"/h5/declarations/{declaration_id}",
                 f"/h5/houses/{other_house}/move-out"):
        html = get(attacker, path).get_data(as_text=True)
        assert "假名字" in html and "真名字" not in html, path


def test_proposal_about_a_proven_person_waits_for_an_officer(app, db, place):
    tenant, _ = phone_user(app, "本人")
    number = fake.resident_id()
    pass_real_name(tenant, "实名本人", number)
    landlord, _ = phone_user(app, "房东")
    house_id = register(landlord, place["addresses"][0])
    declaration_id = move_in(landlord, house_id, "别的名字", number)
    db.session.expire_all()
    declaration = db.session.get(Declaration, declaration_id)
    assert declaration.status == "needs_review"
    assert any(r["message"] == "申报的姓名与该人员实名核验的信息不一致，需民警审核"
               for r in declaration.reasons)
    assert find_person("resident_id", number).name == "实名本人"


def test_real_name_check_records_the_verified_name_as_history(app, db, place):
    landlord, _ = phone_user(app, "房东")
    number = fake.resident_id()
    move_in(landlord, register(landlord, place["addresses"][0]), "错别字", number)
    tenant, _ = phone_user(app, "租客")
    pass_real_name(tenant, "正确名", number)
    db.session.expire_all()
    assert find_person("resident_id", number).name == "正确名"
    change = db.session.execute(select(PersonChange).where(
        PersonChange.applied_by == "real_name")).scalar_one()
    assert (change.field, change.old_value, change.new_value) == ("name", "错别字", "正确名")


def test_proposal_is_applied_when_the_declaration_is_verified_with_history(app, db, place):
    owner, _ = phone_user(app, "房东")
    number, new_phone = fake.resident_id(), "13755556666"
    register(owner, place["addresses"][0], **{"owner-document_number": number,
                                              "owner-name": "房东甲"})
    landlord, _ = phone_user(app, "二房东")
    house_id = register(landlord, place["addresses"][1])
    declaration_id = move_in(landlord, house_id, "房东甲", number, phone=new_phone)
    db.session.expire_all()
    assert db.session.get(Declaration, declaration_id).status == "verified"
    person = find_person("resident_id", number)
    assert person.phone_masked == "137****6666"
    change = db.session.execute(select(PersonChange).where(
        PersonChange.field == "phone")).scalar_one()
    assert (change.status, change.new_value, change.declaration_id, change.applied_by) == (
        "applied", "137****6666", declaration_id, "worker")
    assert change.old_value != "13755556666" and change.new_value_enc is None
    console = officer_client(app, db, place)
    html = console.get(f"/console/persons/{person.id}").get_data(as_text=True)
    assert "信息变更记录" in html and "137****6666" in html and f"申报 #{declaration_id}" in html
    assert "13755556666" not in html


def test_proposal_against_a_person_living_elsewhere_applies_when_an_officer_approves(app, db,
                                                                                   place):
    landlord, _ = phone_user(app, "房东")
    house_id = register(landlord, place["addresses"][0])
    number = fake.resident_id()
    move_in(landlord, house_id, "旧名字", number)
    other, _ = phone_user(app, "另一房东")
    other_house = register(other, place["addresses"][1])
    declaration_id = move_in(other, other_house, "新名字", number)
    console = officer_client(app, db, place)
    resp = console.post(f"/console/declarations/{declaration_id}/decide",
                        data={"action": "approve", "reason": ""})
    assert resp.status_code in (200, 302)
    db.session.expire_all()
    person = find_person("resident_id", number)
    assert person.name == "新名字"
    change = db.session.execute(select(PersonChange).where(
        PersonChange.field == "name")).scalar_one()
    assert (change.old_value, change.new_value, change.status) == ("旧名字", "新名字", "applied")
    assert change.applied_by.startswith("officer:")


def test_rejected_declaration_discards_its_proposal(app, db, place):
    landlord, _ = phone_user(app, "房东")
    house_id = register(landlord, place["addresses"][0])
    number = fake.resident_id()
    move_in(landlord, house_id, "旧名字", number)
    other, _ = phone_user(app, "另一房东")
    declaration_id = move_in(other, register(other, place["addresses"][1]), "新名字", number)
    console = officer_client(app, db, place)
    console.post(f"/console/declarations/{declaration_id}/decide",
                 data={"action": "reject", "reason": "姓名与证件不符"})
    db.session.expire_all()
    assert find_person("resident_id", number).name == "旧名字"
    assert db.session.execute(select(PersonChange.status)).scalar_one() == "discarded"


# -- 3. self-declarations wait for the landlord --------------------------------------------------

def _self_declaration_world(app, db, place):
    landlord, landlord_openid = phone_user(app, "房东")
    house_id = register(landlord, place["addresses"][0])
    tenant, _ = phone_user(app, "租客")
    declaration_id = self_declare(tenant, place["addresses"][0], "自报租客", fake.resident_id())
    return landlord, landlord_openid, house_id, tenant, declaration_id


def _residence(db, declaration_id) -> Residence:
    db.session.expire_all()
    return db.session.execute(select(Residence).where(
        Residence.declaration_id == declaration_id)).scalar_one()


def test_self_declaration_stays_pending_until_the_landlord_confirms(app, db, place):
    landlord, landlord_openid, house_id, tenant, declaration_id = _self_declaration_world(
        app, db, place)
    declaration = db.session.get(Declaration, declaration_id)
    assert declaration.status == "verified" and declaration.landlord_confirmation == "pending"
    assert _residence(db, declaration_id).status == "pending"
    tenant_view = get(tenant, f"/h5/declarations/{declaration_id}").get_data(as_text=True)
    assert "等待房东确认" in tenant_view
    landlord_id = wechat_user(db, landlord_openid).id
    push = db.session.execute(select(PushMessage).where(
        PushMessage.dedupe_key == f"self_declaration:{declaration_id}:landlord:{landlord_id}")
    ).scalar_one()
    assert push.wechat_user_id == landlord_id
    assert any("租客自主申报待您确认" in str(m) for m in store.sent_messages(landlord_openid))
    # The landlord's house page links to the answer page, which is there (no 404).
    house_page = get(landlord, f"/h5/houses/{house_id}").get_data(as_text=True)
    answer_url = f"/h5/houses/{house_id}/self/{declaration_id}"
    assert answer_url in house_page and "待您确认" in house_page
    assert get(landlord, answer_url).status_code == 200
    confirmed = landlord.post(answer_url, data={"action": "confirm"}, follow_redirects=True)
    assert "您已确认该租客在此居住" in confirmed.get_data(as_text=True)
    assert _residence(db, declaration_id).status == "active"


def test_nobody_but_the_landlord_can_answer_a_self_declaration(app, db, place):
    _, _, house_id, tenant, declaration_id = _self_declaration_world(app, db, place)
    answer_url = f"/h5/houses/{house_id}/self/{declaration_id}"
    assert get(tenant, answer_url).status_code == 404
    assert tenant.post(answer_url, data={"action": "confirm"}).status_code == 404
    code = db.session.get(Declaration, declaration_id).receipt_code
    assert tenant.post(f"/h5/confirm/{code}").status_code == 404
    assert _residence(db, declaration_id).status == "pending"


def test_landlord_denial_ends_the_self_declaration_with_the_reason_shown_to_the_tenant(app, db,
                                                                                     place):
    landlord, _, house_id, tenant, declaration_id = _self_declaration_world(app, db, place)
    answer_url = f"/h5/houses/{house_id}/self/{declaration_id}"
    no_reason = landlord.post(answer_url, data={"action": "deny", "reason": " "})
    assert no_reason.status_code == 400 and "请填写不予确认的原因" in no_reason.get_data(as_text=True)
    landlord.post(answer_url, data={"action": "deny", "reason": "不认识此人"})
    residence = _residence(db, declaration_id)
    declaration = db.session.get(Declaration, declaration_id)
    assert declaration.status == "rejected" and declaration.landlord_confirmation == "denied"
    assert residence.status == "ended" and residence.active_slot is None
    page = get(tenant, f"/h5/declarations/{declaration_id}").get_data(as_text=True)
    assert "房东未确认：不认识此人" in page


def test_unanswered_self_declaration_goes_to_the_officer_queue_once(app, db, place, run_jobs):
    from workers.jobs import escalate_unconfirmed_self_declarations
    from workers.queues import enqueue_now
    from workers.schedule import PERIODIC_JOBS

    assert escalate_unconfirmed_self_declarations in [job for job, *_ in PERIODIC_JOBS]
    _, _, _, _, declaration_id = _self_declaration_world(app, db, place)
    days = app.config["SELF_DECLARATION_CONFIRM_DAYS"]
    assert days == 3
    early = (utcnow() + timedelta(days=days - 1)).isoformat()
    assert escalate_unconfirmed_self_declarations(early) == 0
    late = (utcnow() + timedelta(days=days, hours=1)).isoformat()
    enqueue_now(escalate_unconfirmed_self_declarations, late, queue="low")
    run_jobs()
    db.session.expire_all()
    declaration = db.session.get(Declaration, declaration_id)
    assert declaration.status == "needs_review"
    assert declaration.landlord_confirmation == "escalated"
    assert {"field": "landlord", "message": "房东未在规定时间内确认"} in declaration.reasons
    events = len(declaration.events)
    assert escalate_unconfirmed_self_declarations(late) == 0  # idempotent
    db.session.expire_all()
    assert len(db.session.get(Declaration, declaration_id).events) == events
    assert _residence(db, declaration_id).status == "pending"
    console = officer_client(app, db, place)
    queue = console.get("/console/declarations?status=needs_review").get_data(as_text=True)
    assert db.session.get(Declaration, declaration_id).receipt_code in queue
    detail = console.get(f"/console/declarations/{declaration_id}").get_data(as_text=True)
    assert "房东逾期未确认" in detail and "房东未在规定时间内确认" in detail
    console.post(f"/console/declarations/{declaration_id}/decide", data={"action": "approve"})
    assert _residence(db, declaration_id).status == "active"
