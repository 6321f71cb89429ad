"""H5 pages through real WeChat OAuth (sandbox): declare, keep the form on errors, confirm."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from app.fakedata import FakeData
from app.models import Declaration, House, Residence
from tests.factories import make_address, make_jurisdiction
from wechat.sandbox import store

fake = FakeData(515)


def sign_in(client, nickname: str) -> str:
    """Be a fresh sandbox WeChat user in this test client (the OAuth dance happens on demand)."""
    user = store.create_user(nickname, subscribed=True)
    client.set_cookie("sandbox_openid", user["openid"])
    assert client.get("/h5/houses", follow_redirects=True).status_code == 200  # OAuth, for real
    return user["openid"]


def get(client, path):
    return client.get(path, follow_redirects=True)


def pass_real_name(client, name: str, number: str, next_path: str = "/h5/me",
                   decision: str = "pass"):
    """Complete 实名核验 through the H5 form and the sandbox's 模拟微信实名核验 page."""
    started = client.post("/h5/me/real-name", data={"name": name, "document_type": "resident_id",
                                                    "document_number": number, "next": next_path})
    assert started.status_code == 302, started.get_data(as_text=True)
    page = client.get(started.headers["Location"])
    assert "模拟微信实名核验" in page.get_data(as_text=True)
    back = client.post(started.headers["Location"], data={"decision": decision})
    assert back.status_code == 302 and "/h5/me/real-name/done" in back.headers["Location"]
    return client.get(back.headers["Location"], follow_redirects=True)


@pytest.fixture()
def plate(db):
    place = make_jurisdiction()
    addresses = [make_address(place["community"]) for _ in range(2)]
    db.session.commit()
    return addresses


def house_form(address, **over):
    form = {"rental_type": "shared", "rooms": "2", "area_m2": "60", "monthly_rent": "2000",
            "owner-name": "房东甲", "owner-document_type": "resident_id",
            "owner-document_number": fake.resident_id(), "owner-phone": fake.mobile()}
    form.update(over)
    return form


def test_door_plate_page_requires_wechat_identity_and_shows_the_address(client, plate):
    first = client.get(f"/h5/a/{plate[0].qr_token}")
    assert first.status_code == 302 and "oauth2/authorize" in first.headers["Location"]
    sign_in(client, "房东")
    page = get(client, f"/h5/a/{plate[0].qr_token}")
    assert page.status_code == 200 and plate[0].full_text in page.get_data(as_text=True)


def test_landlord_registers_signs_declares_and_sees_the_receipt(client, db, plate):
    sign_in(client, "房东")
    address = plate[0]
    assert "登记出租房屋" in get(client, f"/h5/a/{address.qr_token}/house").get_data(as_text=True)
    resp = client.post(f"/h5/a/{address.qr_token}/house", data=house_form(address),
                       follow_redirects=True)
    assert resp.status_code == 200 and "治安责任保证书" in resp.get_data(as_text=True)
    house = db.session.execute(select(House)).scalar_one()
    refused = client.post(f"/h5/houses/{house.id}/pledge", data={"signer_name": "房东甲"})
    assert refused.status_code == 400 and "请阅读并勾选同意保证书" in refused.get_data(as_text=True)
    signed = client.post(f"/h5/houses/{house.id}/pledge",
                         data={"signer_name": "房东甲", "agree": "1"}, follow_redirects=True)
    assert "保证书已签署" in signed.get_data(as_text=True)
    today = date.today().isoformat()
    form = {"rows": "2"}
    for i in range(2):
        form.update({f"tenants-{i}-name": fake.name(), f"tenants-{i}-document_type": "resident_id",
                     f"tenants-{i}-document_number": fake.resident_id(),
                     f"tenants-{i}-start_date": today})
    receipt = client.post(f"/h5/houses/{house.id}/move-in", data=form, follow_redirects=True)
    html = receipt.get_data(as_text=True)
    assert "申报已提交" in html
    code = re.search(r'data-testid="receipt-code">(\w+)<', html).group(1)
    assert db.session.execute(select(func.count()).select_from(Residence)).scalar_one() == 2
    assert client.get(f"/r/{code}").status_code == 200


def test_invalid_id_shows_the_message_next_to_the_field_and_keeps_what_was_typed(client, db,
                                                                               plate):
    sign_in(client, "房东")
    good = fake.resident_id()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    resp = client.post(f"/h5/a/{plate[0].qr_token}/house",
                       data=house_form(plate[0], **{"owner-document_number": bad}))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "身份证号码有误，请核对最后一位" in html and f'value="{bad}"' in html
    assert 'value="房东甲"' in html and 'id="e-owner-document_number"' in html
    assert db.session.execute(select(func.count()).select_from(House)).scalar_one() == 0


def test_move_in_form_adds_rows_without_losing_input(client, db, plate):
    sign_in(client, "房东")
    client.post(f"/h5/a/{plate[0].qr_token}/house", data=house_form(plate[0]))
    house = db.session.execute(select(House)).scalar_one()
    resp = client.post(f"/h5/houses/{house.id}/move-in",
                       data={"rows": "1", "add_row": "1", "tenants-0-name": "留着我"})
    html = resp.get_data(as_text=True)
    assert 'value="留着我"' in html and "租客 2" in html


def test_another_landlords_house_is_404(app, client, db, plate):
    sign_in(client, "房东")
    client.post(f"/h5/a/{plate[0].qr_token}/house", data=house_form(plate[0]))
    house = db.session.execute(select(House)).scalar_one()
    client = app.test_client()  # another phone
    sign_in(client, "路人")
    assert get(client, f"/h5/houses/{house.id}").status_code == 404


def test_tenant_self_declares_and_sees_permit_date_once_proven(app, client, db, plate):
    sign_in(client, "房东")
    client.post(f"/h5/a/{plate[0].qr_token}/house", data=house_form(plate[0]))
    client = app.test_client()
    sign_in(client, "租客")
    number = fake.resident_id()
    me = {"me-name": "租客乙", "me-document_type": "resident_id",
          "me-document_number": number, "me-phone": fake.mobile(),
          "me-start_date": date.today().isoformat()}
    resp = client.post(f"/h5/a/{plate[0].qr_token}/self", data=me, follow_redirects=True)
    assert "申报已提交" in resp.get_data(as_text=True)
    assert db.session.execute(select(Declaration.kind).order_by(Declaration.id.desc())
                              ).scalars().first() == "self"
    # Declaring with a number proves nothing: the registration shows only after 实名核验.
    before = get(client, "/h5/me").get_data(as_text=True)
    assert plate[0].full_text not in before and "尚未完成实名关联" in before
    mine = pass_real_name(client, "租客乙", number).get_data(as_text=True)
    assert plate[0].full_text in mine and "可申领居住证" in mine


def test_tenant_confirms_the_landlords_declaration_after_real_name_check(app, client, db,
                                                                          plate):
    sign_in(client, "房东")
    client.post(f"/h5/a/{plate[0].qr_token}/house", data=house_form(plate[0]))
    house = db.session.execute(select(House)).scalar_one()
    number = fake.resident_id()
    client.post(f"/h5/houses/{house.id}/move-in", data={
        "tenants-0-name": "租客丙", "tenants-0-document_number": number,
        "tenants-0-start_date": date.today().isoformat()})
    code = db.session.execute(select(Declaration.receipt_code).where(
        Declaration.kind == "move_in")).scalar_one()
    client = app.test_client()
    sign_in(client, "租客丙")
    # Typing the number is no longer enough: an unlinked user is sent to the real-name check.
    typed = client.post(f"/h5/confirm/{code}", data={"document_number": number})
    assert typed.status_code == 302 and "/h5/me/real-name" in typed.headers["Location"]
    page = pass_real_name(client, "租客丙", number, next_path=f"/h5/confirm/{code}")
    assert page.request.path == f"/h5/confirm/{code}"
    ok = client.post(f"/h5/confirm/{code}")
    assert "已确认" in ok.get_data(as_text=True)


def test_employer_registers_and_declares_a_worker_with_dormitory(client, db, plate):
    sign_in(client, "老板")
    office, dorm = plate
    bad = client.post(f"/h5/a/{office.qr_token}/employer", data={
        "name": "测试公司", "uscc": "91350200MA00000000", "contact_name": "王",
        "contact_phone": fake.mobile()})
    assert bad.status_code == 400 and "统一社会信用代码" in bad.get_data(as_text=True)
    resp = client.post(f"/h5/a/{office.qr_token}/employer", data={
        "name": "测试公司", "uscc": fake.uscc(), "contact_name": "王",
        "contact_phone": fake.mobile()}, follow_redirects=True)
    assert "测试公司" in resp.get_data(as_text=True)
    employer_id = int(re.search(r"/h5/employers/(\d+)", resp.request.path).group(1))
    hired = client.post(f"/h5/employers/{employer_id}", data={
        "workers-0-name": "工人丁", "workers-0-document_number": fake.resident_id(),
        "workers-0-start_date": date.today().isoformat(),
        "workers-0-dormitory_qr_token": dorm.qr_token}, follow_redirects=True)
    assert "申报已提交" in hired.get_data(as_text=True)


def test_h5_post_without_csrf_token_is_refused_when_csrf_is_on(app, client, db, plate,
                                                              monkeypatch):
    sign_in(client, "房东")
    get(client, f"/h5/a/{plate[0].qr_token}/house")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    resp = client.post(f"/h5/a/{plate[0].qr_token}/house", data=house_form(plate[0]))
    assert resp.status_code == 400 and "页面已过期" in resp.get_data(as_text=True)
