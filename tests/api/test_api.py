"""Mini-program API: every action, every error path, one error body everywhere."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.api.auth import issue_app_token
from app.fakedata import FakeData
from app.models import Declaration, Residence, WeChatUser
from tests.factories import make_address, make_jurisdiction

fake = FakeData(4242)


def person(**over):
    data = {"name": fake.name(), "document_type": "resident_id",
            "document_number": fake.resident_id(), "phone": fake.mobile()}
    data.update(over)
    return data


class Api:
    def __init__(self, client, token):
        self.client, self.token = client, token

    def _headers(self, key=None):
        h = {"Authorization": f"Bearer {self.token}"}
        if key:
            h["Idempotency-Key"] = key
        return h

    def get(self, path):
        return self.client.get(f"/api/v1{path}", headers=self._headers())

    def post(self, path, body=None, key=None, raw=None):
        if raw is not None:
            return self.client.post(f"/api/v1{path}", data=raw, headers=self._headers(key),
                                    content_type="application/json")
        return self.client.post(f"/api/v1{path}", json=body or {}, headers=self._headers(key))


def user_api(client, db, openid):
    user = WeChatUser(openid=openid, source="miniapp")
    db.session.add(user)
    db.session.commit()
    return Api(client, issue_app_token(user.id)), user


@pytest.fixture()
def world(db):
    place = make_jurisdiction()
    addresses = [make_address(place["community"]) for _ in range(3)]
    db.session.commit()
    return {"place": place, "addresses": addresses}


@pytest.fixture()
def landlord(client, db):
    return user_api(client, db, "o-landlord")[0]


def register(landlord, address, **over):
    body = {"qr_token": address.qr_token, "rental_type": "shared", "rooms": 3,
            "area_m2": "68.5", "monthly_rent": "2600", "owner": person()}
    body.update(over)
    return landlord.post("/houses", body)


def test_without_token_the_api_answers_401_in_the_common_error_body(client, db):
    resp = client.get("/api/v1/houses")
    assert resp.status_code == 401
    assert resp.get_json() == {"code": 401, "message": "请先登录", "fields": {}}


def test_forged_token_is_refused(client, db):
    resp = client.get("/api/v1/houses", headers={"Authorization": "Bearer x.y.z"})
    assert resp.status_code == 401


def test_landlord_registers_house_signs_and_declares_two_tenants(landlord, world):
    resp = register(landlord, world["addresses"][0])
    assert resp.status_code == 201, resp.get_json()
    house_id = resp.get_json()["house_id"]
    assert resp.get_json()["kind_label"] == "房屋登记"
    signed = landlord.post(f"/houses/{house_id}/pledge", {"signer_name": "房东", "agree": True})
    assert signed.status_code == 200 and signed.get_json()["pledge_signed_at"]
    moved = landlord.post(f"/houses/{house_id}/move-ins", {"tenants": [
        dict(person(), start_date=date.today().isoformat(), room="A"),
        dict(person(), start_date=date.today().isoformat(), room="B")]})
    body = moved.get_json()
    assert moved.status_code == 201 and body["kind"] == "move_in"
    assert body["status"] in ("received", "verified") and len(body["receipt_code"]) == 8
    detail = landlord.get(f"/houses/{house_id}").get_json()
    assert len(detail["tenants"]) == 2
    assert "*" in detail["tenants"][0]["document_masked"]
    mine = landlord.get("/declarations").get_json()
    assert [d["kind"] for d in mine] == ["move_in", "house"]


def test_invalid_id_number_gets_400_naming_the_field_and_nothing_is_stored(landlord, world, db):
    house_id = register(landlord, world["addresses"][0]).get_json()["house_id"]
    good = fake.resident_id()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    resp = landlord.post(f"/houses/{house_id}/move-ins", {"tenants": [
        dict(person(), start_date=date.today().isoformat()),
        dict(person(document_number=bad), start_date=date.today().isoformat())]})
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["code"] == 400 and "核对最后一位" in body["fields"]["tenants.1.document_number"]
    assert db.session.execute(select(func.count()).select_from(Residence)).scalar_one() == 0


def test_schema_errors_are_chinese_per_field(landlord, world):
    resp = landlord.post("/houses", {"qr_token": world["addresses"][0].qr_token,
                                     "rental_type": "castle", "rooms": "many"})
    fields = resp.get_json()["fields"]
    assert resp.status_code == 400
    assert fields["rental_type"].startswith("出租类型应为") and fields["rooms"] == "房间数应为整数"
    assert fields["owner"] == "请填写房主信息"


@pytest.mark.parametrize("raw", [b"{not json", b"[1,2,3]", b"\xff\xfe", b"null"])
def test_malformed_bodies_get_400_never_500(landlord, world, raw):
    resp = landlord.post("/houses", raw=raw)
    assert resp.status_code == 400
    assert resp.get_json()["fields"]


def test_same_idempotency_key_returns_the_same_declaration(landlord, world, db):
    house_id = register(landlord, world["addresses"][0]).get_json()["house_id"]
    body = {"tenants": [dict(person(), start_date=date.today().isoformat())]}
    first = landlord.post(f"/houses/{house_id}/move-ins", body, key="retry-1")
    second = landlord.post(f"/houses/{house_id}/move-ins", body, key="retry-1")
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert db.session.execute(select(func.count()).select_from(Residence)).scalar_one() == 1


def test_bad_idempotency_key_is_refused(landlord, world):
    resp = landlord.post("/houses", {}, key="spaces are not allowed")
    assert resp.status_code == 400 and "Idempotency-Key" in resp.get_json()["fields"]


def test_another_users_house_is_404(landlord, client, db, world):
    house_id = register(landlord, world["addresses"][0]).get_json()["house_id"]
    stranger, _ = user_api(client, db, "o-stranger")
    assert stranger.get(f"/houses/{house_id}").status_code == 404
    resp = stranger.post(f"/houses/{house_id}/move-ins", {"tenants": []})
    assert resp.status_code == 404


def test_unknown_door_plate_names_the_field(landlord, world):
    resp = register(landlord, world["addresses"][0], qr_token="nope")
    assert resp.status_code == 400 and "门牌码无效" in resp.get_json()["fields"]["qr_token"]
    assert landlord.get("/addresses/nope").status_code == 404


def test_move_in_too_far_ahead_and_move_out_before_move_in(landlord, world):
    house_id = register(landlord, world["addresses"][0]).get_json()["house_id"]
    ahead = landlord.post(f"/houses/{house_id}/move-ins", {"tenants": [
        dict(person(), start_date=(date.today() + timedelta(days=3)).isoformat())]})
    assert ahead.status_code == 400 and "tenants.0.start_date" in ahead.get_json()["fields"]
    landlord.post(f"/houses/{house_id}/move-ins", {"tenants": [
        dict(person(), start_date=date.today().isoformat())]})
    rid = landlord.get(f"/houses/{house_id}").get_json()["tenants"][0]["id"]
    early = landlord.post(f"/houses/{house_id}/move-outs", {
        "residence_ids": [rid], "end_date": (date.today() - timedelta(days=9)).isoformat()})
    assert early.status_code == 400 and "end_date" in early.get_json()["fields"]
    out = landlord.post(f"/houses/{house_id}/move-outs", {
        "residence_ids": [rid], "end_date": date.today().isoformat()})
    assert out.status_code == 201 and landlord.get(f"/houses/{house_id}").get_json()["tenants"] == []


def test_tenant_self_declares_and_landlord_confirms(landlord, client, db, world):
    address = world["addresses"][0]
    register(landlord, address)
    tenant_api, _ = user_api(client, db, "o-tenant")
    me = dict(person(), start_date=date.today().isoformat())
    resp = tenant_api.post("/self-declarations", {"qr_token": address.qr_token, "me": me})
    assert resp.status_code == 201 and resp.get_json()["kind"] == "self"
    code = resp.get_json()["receipt_code"]
    confirmed = landlord.post(f"/declarations/{code}/confirm")
    assert confirmed.status_code == 200
    regs = tenant_api.get("/me/registrations").get_json()
    assert regs[0]["address"] == address.full_text and regs[0]["permit_from"]


def test_tenant_confirms_the_landlords_declaration_with_their_document(landlord, client, db,
                                                                       world):
    house_id = register(landlord, world["addresses"][0]).get_json()["house_id"]
    me = person()
    code = landlord.post(f"/houses/{house_id}/move-ins", {"tenants": [
        dict(me, start_date=date.today().isoformat())]}).get_json()["receipt_code"]
    tenant_api, _ = user_api(client, db, "o-tenant2")
    wrong = tenant_api.post(f"/declarations/{code}/confirm",
                            {"document_number": fake.resident_id()})
    assert wrong.status_code == 400 and "document_number" in wrong.get_json()["fields"]
    ok = tenant_api.post(f"/declarations/{code}/confirm",
                         {"document_number": me["document_number"]})
    assert ok.status_code == 200
    events = db.session.execute(select(Declaration).where(
        Declaration.receipt_code == code)).scalar_one().events
    assert events[-1].note == "租客已确认"


def test_employer_registers_hires_with_dormitory_and_declares_leaver(client, db, world):
    boss, _ = user_api(client, db, "o-boss")
    office, dorm = world["addresses"][1], world["addresses"][2]
    bad = boss.post("/employers", {"name": "测试公司", "uscc": "123", "qr_token": office.qr_token,
                                   "contact_name": "王", "contact_phone": fake.mobile()})
    assert bad.status_code == 400 and "uscc" in bad.get_json()["fields"]
    reg = boss.post("/employers", {"name": "测试公司", "uscc": fake.uscc(),
                                   "qr_token": office.qr_token, "contact_name": "王",
                                   "contact_phone": fake.mobile()})
    assert reg.status_code == 201
    employer_id = reg.get_json()["employer_id"]
    hired = boss.post(f"/employers/{employer_id}/hires", {"workers": [
        dict(person(), start_date=date.today().isoformat(), job="厨师",
             dormitory_qr_token=dorm.qr_token)]})
    assert hired.status_code == 201
    workers = boss.get(f"/employers/{employer_id}").get_json()["workers"]
    left = boss.post(f"/employers/{employer_id}/leaves", {
        "employment_ids": [workers[0]["employment_id"]], "end_date": date.today().isoformat()})
    assert left.status_code == 201
    assert boss.get(f"/employers/{employer_id}").get_json()["workers"] == []


def test_openapi_document_lists_every_operation_with_schemas(client, db):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/houses/{house_id}/move-ins" in spec["paths"]
    body = spec["paths"]["/houses/{house_id}/move-ins"]["post"]
    assert body["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("MoveIn")
    assert any(p["name"] == "Idempotency-Key" for p in body["parameters"])
    assert "TenantIn" in spec["components"]["schemas"]
    assert spec["components"]["schemas"]["Error"]["properties"].keys() >= {"code", "message",
                                                                           "fields"}


def test_submissions_are_rate_limited_per_wechat_user(app_config, db, monkeypatch):
    from app import create_app
    from app.extensions import limiter

    monkeypatch.setattr(limiter, "enabled", limiter.enabled)  # restored after the test
    limited = create_app({**app_config, "RATELIMIT_ENABLED": True,
                          "RATELIMIT_STORAGE_URI": "memory://"})
    client = limited.test_client()
    with limited.app_context():
        busy, _ = user_api(client, db, "o-busy")
        calm, _ = user_api(client, db, "o-calm")
        codes = [busy.post("/houses", {}).status_code for _ in range(31)]
        assert codes[:30] == [400] * 30 and codes[30] == 429
        assert busy.post("/houses", {}).get_json()["message"] == "操作过于频繁，请稍后再试"
        assert calm.post("/houses", {}).status_code == 400  # another user is not affected
