"""Item 13: every H5 page has a way back and home; the landing page offers the five actions; a
door plate offers only what the user can do there; confirm pages and receipts say what and who."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.models import Declaration, House
from tests.factories import make_address, make_jurisdiction
from tests.h5.test_pages import house_form, sign_in
from wechat.sandbox import store


def test_landing_page_offers_the_five_actions_and_every_page_has_back_and_home(client, db):
    html = client.get("/").get_data(as_text=True)
    actions = re.search(r'data-testid="home-actions">(.*?)</ul>', html, re.S).group(1)
    for label in ("登记房屋", "申报租客", "我是租客", "单位申报", "我的申报"):
        assert f">{label}</a>" in actions
    sign_in(client, "房东")
    for path in ("/", "/h5/houses", "/h5/declarations", "/h5/me", "/h5/employers", "/r/ZZZZZZZZ"):
        page = client.get(path, headers={"Referer": "http://localhost/h5/houses"})
        body = page.get_data(as_text=True)
        assert 'data-testid="h5-nav"' in body and "‹ 返回" in body and ">首页</a>" in body, path


def test_back_leads_to_the_previous_page_on_this_site_only(client, db):
    sign_in(client, "房东")
    same = client.get("/h5/employers", headers={"Referer": "http://localhost/h5/houses"})
    other = client.get("/", headers={"Referer": "https://evil.example/x"})
    assert 'class="back" href="/h5/houses"' in same.get_data(as_text=True)
    assert 'class="back" href="/"' in other.get_data(as_text=True)


def test_door_plate_offers_only_what_a_stranger_can_do_and_asks_to_follow(app, client, db):
    place = make_jurisdiction()
    address = make_address(place["community"])
    db.session.commit()
    sign_in(client, "房东")
    client.post(f"/h5/a/{address.qr_token}/house", data=house_form(address))
    assert db.session.execute(select(House)).scalar_one()

    other = app.test_client()
    stranger = store.create_user("路人", subscribed=False)
    other.set_cookie("sandbox_openid", stranger["openid"])
    html = other.get(f"/h5/a/{address.qr_token}", follow_redirects=True).get_data(as_text=True)
    actions = re.search(r'data-testid="address-actions">(.*?)</ul>', html, re.S).group(1)
    assert "申报租客" not in actions and "即将开放" not in html
    assert "申请变更房主" in actions and "我是租客" in actions
    assert 'data-testid="follow"' in html and "关注公众号" in html


def test_owner_sees_tenant_action_and_no_follow_prompt_when_following(client, db):
    from app.models import WeChatUser

    place = make_jurisdiction()
    address = make_address(place["community"])
    db.session.commit()
    openid = sign_in(client, "房东")
    # Following is learnt from the subscribe event (wechat/router.py), not from OAuth.
    db.session.execute(select(WeChatUser).where(WeChatUser.openid == openid)).scalar_one() \
        .subscribed = True
    db.session.commit()
    client.post(f"/h5/a/{address.qr_token}/house", data=house_form(address))
    html = client.get(f"/h5/a/{address.qr_token}", follow_redirects=True).get_data(as_text=True)
    assert "申报租客" in html and 'data-testid="follow"' not in html


def test_confirm_page_shows_what_is_being_confirmed_and_receipt_says_who_and_next(client, db):
    place = make_jurisdiction()
    address = make_address(place["community"])
    db.session.commit()
    sign_in(client, "房东")
    client.post(f"/h5/a/{address.qr_token}/house", data=house_form(address))
    house = db.session.execute(select(House)).scalar_one()
    from app.fakedata import FakeData

    fake = FakeData(77)
    client.post(f"/h5/houses/{house.id}/move-in", data={
        "rows": "1", "tenants-0-name": "欧阳小明", "tenants-0-document_type": "resident_id",
        "tenants-0-document_number": fake.resident_id(), "tenants-0-start_date": "2026-11-20"})
    d = db.session.execute(select(Declaration).where(Declaration.kind == "move_in")).scalar_one()
    page = client.get(f"/h5/confirm/{d.receipt_code}").get_data(as_text=True)
    confirming = re.search(r'data-testid="confirming">(.*?)</dl>', page, re.S).group(1)
    assert "租客入住" in confirming and "房东" in confirming and "欧**明" in confirming
    assert "2026年11月20日起入住" in confirming
    receipt = client.get(f"/r/{d.receipt_code}").get_data(as_text=True)
    assert re.search(r'data-testid="receipt-who">房东<', receipt)
    status = db.session.get(Declaration, d.id).status
    from app.wording import NEXT_STEPS

    assert f'data-testid="receipt-next">{NEXT_STEPS[status]}<' in receipt
    assert "登记入住的租客" in receipt
