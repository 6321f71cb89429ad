"""Door-plate and USCC takeovers through the H5 pages are refused: a second registration files an
ownership claim, the holder keeps everything and is told by push; the owner manages the agent."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from app.fakedata import FakeData
from app.models import Employer, House, OwnershipClaim, WeChatUser
from app.services.declarations.claims import HOUSE_CLAIM_FILED
from tests.factories import make_address, make_jurisdiction
from tests.h5.test_pages import get, house_form, sign_in
from wechat.sandbox import store

fake = FakeData(1010)


@pytest.fixture()
def plate(db):
    place = make_jurisdiction()
    addresses = [make_address(place["community"]) for _ in range(2)]
    db.session.commit()
    return addresses


def _user(db, openid: str) -> WeChatUser:
    db.session.expire_all()
    return db.session.execute(select(WeChatUser).where(WeChatUser.openid == openid)).scalar_one()


def _landlord_with_a_tenant(app, db, address, form=None):
    owner_client = app.test_client()
    owner_openid = sign_in(owner_client, "真房东")
    owner_client.post(f"/h5/a/{address.qr_token}/house", data=form or house_form(address))
    house = db.session.execute(select(House)).scalar_one()
    owner_client.post(f"/h5/houses/{house.id}/move-in", data={
        "tenants-0-name": "租客甲", "tenants-0-document_number": fake.resident_id(),
        "tenants-0-start_date": date.today().isoformat()})
    return owner_client, owner_openid, house


def test_second_registration_at_a_plate_files_a_claim_and_the_owner_keeps_the_house(
        app, db, plate, run_jobs):
    owner_client, owner_openid, house = _landlord_with_a_tenant(app, db, plate[0])
    before = (house.owner_person_id, house.owner_wechat_user_id, house.agent_person_id)

    attacker = app.test_client()
    attacker_openid = sign_in(attacker, "读门牌的人")
    form_page = get(attacker, f"/h5/a/{plate[0].qr_token}/house").get_data(as_text=True)
    assert "房主变更申请" in form_page
    resp = attacker.post(f"/h5/a/{plate[0].qr_token}/house",
                         data=house_form(plate[0], **{"owner-name": "冒充者"}),
                         follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and HOUSE_CLAIM_FILED in html
    assert "租客甲" not in html

    db.session.expire_all()
    house = db.session.get(House, house.id)
    assert (house.owner_person_id, house.owner_wechat_user_id, house.agent_person_id) == before
    claim = db.session.execute(select(OwnershipClaim)).scalar_one()
    assert claim.status == "pending" and claim.subject_id == house.id
    assert claim.claimant_wechat_user_id == _user(db, attacker_openid).id
    # The claimant sees nothing of the house; the owner still sees the tenants.
    assert get(attacker, f"/h5/houses/{house.id}").status_code == 404
    assert "租客甲" not in get(attacker, "/h5/houses").get_data(as_text=True)
    owner_page = get(owner_client, f"/h5/houses/{house.id}")
    assert owner_page.status_code == 200 and "租客甲" in owner_page.get_data(as_text=True)
    assert 'data-testid="pending-claims"' in owner_page.get_data(as_text=True)
    # The owner is told at once, by push.
    run_jobs()
    titles = [m["data"]["first"]["value"] for m in store.sent_messages(owner_openid)]
    assert "有人申请变更您登记的房屋" in titles


def test_the_door_plate_page_does_not_send_a_stranger_to_the_house(app, db, plate):
    _landlord_with_a_tenant(app, db, plate[0])
    stranger = app.test_client()
    sign_in(stranger, "路人")
    page = get(stranger, f"/h5/a/{plate[0].qr_token}").get_data(as_text=True)
    house = db.session.execute(select(House)).scalar_one()
    assert f"/h5/houses/{house.id}" not in page
    assert f"/h5/a/{plate[0].qr_token}/house" in page


def test_owner_re_registering_their_own_house_still_updates_it(app, db, plate):
    owner_client, _, house = _landlord_with_a_tenant(app, db, plate[0])
    resp = owner_client.post(f"/h5/a/{plate[0].qr_token}/house",
                             data=house_form(plate[0], rooms="5"), follow_redirects=True)
    assert "治安责任保证书" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(House, house.id).rooms == 5
    assert db.session.execute(select(OwnershipClaim)).first() is None


def test_claim_page_is_only_the_claimants(app, db, plate):
    _landlord_with_a_tenant(app, db, plate[0])
    attacker = app.test_client()
    sign_in(attacker, "申请人")
    resp = attacker.post(f"/h5/a/{plate[0].qr_token}/house", data=house_form(plate[0]))
    claim_path = resp.headers["Location"].split("?")[0]
    assert re.fullmatch(r".*/h5/claims/\d+", claim_path)
    other = app.test_client()
    sign_in(other, "别人")
    assert get(other, claim_path).status_code == 404
    assert get(attacker, claim_path).status_code == 200


def test_owner_adds_an_agent_who_manages_the_house_until_removed(app, db, plate):
    owner_form = house_form(plate[0])
    owner_client, _, house = _landlord_with_a_tenant(app, db, plate[0], owner_form)
    assert 'data-testid="agent-link"' in get(owner_client, f"/h5/houses/{house.id}").get_data(
        as_text=True)
    number = fake.resident_id()
    agent_form = {"agent-name": "托管人乙", "agent-document_type": "resident_id",
                  "agent-document_number": number}
    refused = owner_client.post(f"/h5/houses/{house.id}/agent", data=agent_form)
    assert refused.status_code == 400 and "请填写托管人手机号码" in refused.get_data(as_text=True)
    added = owner_client.post(f"/h5/houses/{house.id}/agent",
                              data={**agent_form, "agent-phone": fake.mobile()},
                              follow_redirects=True)
    assert added.status_code == 200 and "托管人已更新" in added.get_data(as_text=True)
    db.session.expire_all()
    house = db.session.get(House, house.id)
    assert house.agent.name == "托管人乙"

    agent_client = app.test_client()
    agent_openid = sign_in(agent_client, "托管人")
    assert get(agent_client, f"/h5/houses/{house.id}").status_code == 404  # not proven yet
    user = _user(db, agent_openid)
    user.person_id = house.agent_person_id  # what a real-name check does (another issue's port)
    db.session.commit()
    assert "租客甲" in get(agent_client, f"/h5/houses/{house.id}").get_data(as_text=True)
    # The agent may update the house but not name agents, and never becomes its owner.
    agent_client.post(f"/h5/a/{plate[0].qr_token}/house", data={**owner_form, "rooms": "4"})
    db.session.expire_all()
    house = db.session.get(House, house.id)
    assert house.rooms == 4 and house.owner_wechat_user_id != user.id
    assert db.session.execute(select(OwnershipClaim)).first() is None
    assert get(agent_client, f"/h5/houses/{house.id}/agent").status_code == 404
    # Naming another owner is a change of owner: a claim, even from the agent.
    owner_before = house.owner_person_id
    resp = agent_client.post(f"/h5/a/{plate[0].qr_token}/house", data=house_form(plate[0]),
                             follow_redirects=True)
    assert HOUSE_CLAIM_FILED in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(House, house.id).owner_person_id == owner_before

    removed = owner_client.post(f"/h5/houses/{house.id}/agent", data={"action": "remove"})
    assert removed.status_code == 302
    db.session.expire_all()
    assert db.session.get(House, house.id).agent_person_id is None
    assert get(agent_client, f"/h5/houses/{house.id}").status_code == 404


def test_second_registration_of_a_uscc_files_a_claim_and_the_employer_stays(app, db, plate,
                                                                           run_jobs):
    boss = app.test_client()
    boss_openid = sign_in(boss, "老板")
    uscc = fake.uscc()
    resp = boss.post(f"/h5/a/{plate[0].qr_token}/employer", data={
        "name": "真公司", "uscc": uscc, "contact_name": "王", "contact_phone": fake.mobile()},
        follow_redirects=True)
    employer_id = int(re.search(r"/h5/employers/(\d+)", resp.request.path).group(1))
    boss.post(f"/h5/employers/{employer_id}", data={
        "workers-0-name": "工人丁", "workers-0-document_number": fake.resident_id(),
        "workers-0-start_date": date.today().isoformat()})

    attacker = app.test_client()
    attacker_openid = sign_in(attacker, "抄执照的人")
    resp = attacker.post(f"/h5/a/{plate[1].qr_token}/employer", data={
        "name": "冒充公司", "uscc": uscc, "contact_name": "李", "contact_phone": fake.mobile()},
        follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "已提交单位认领申请，待社区民警核实" in html and "工人丁" not in html
    db.session.expire_all()
    employer = db.session.get(Employer, employer_id)
    assert employer.name == "真公司" and employer.address_id == plate[0].id
    assert _user(db, attacker_openid).employer_id is None
    assert _user(db, boss_openid).employer_id == employer_id
    assert get(attacker, f"/h5/employers/{employer_id}").status_code == 404
    assert "工人丁" in get(boss, f"/h5/employers/{employer_id}").get_data(as_text=True)
    run_jobs()
    titles = [m["data"]["first"]["value"] for m in store.sent_messages(boss_openid)]
    assert "有人申请变更您登记的单位" in titles


def test_claimant_withdraws_a_waiting_claim_and_may_not_withdraw_twice(app, db, plate):
    _landlord_with_a_tenant(app, db, plate[0])
    claimant = app.test_client()
    sign_in(claimant, "申请人")
    claimant.post(f"/h5/a/{plate[0].qr_token}/house", data=house_form(plate[0]))
    claim = db.session.execute(select(OwnershipClaim)).scalar_one()
    stranger = app.test_client()
    sign_in(stranger, "别人")
    assert stranger.post(f"/h5/claims/{claim.id}/withdraw").status_code == 404
    page = claimant.post(f"/h5/claims/{claim.id}/withdraw", follow_redirects=True)
    assert "已撤回" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(OwnershipClaim, claim.id).status == "withdrawn"
    again = claimant.post(f"/h5/claims/{claim.id}/withdraw")
    assert again.status_code == 400 and "不能撤回" in again.get_data(as_text=True)
