"""Mini-program API: every action, every error path, one error body everywhere."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.app_tokens import issue_app_token
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


def link_by_officer(db, user, document_number, branch):
    """An officer links the user at the station (the mini-program has no real-name check yet)."""
    from app.services.people import linking
    from app.services.people.people import find_person
    from tests.console.helpers import PASSWORD, create_officer

    officer = create_officer(password=PASSWORD, username=f"link{user.id}", name="民警",
                             badge_number=f"L{user.id:05d}", role="branch_admin",
                             branch_id=branch.id)
    linking.officer_link(officer, find_person("resident_id", document_number),
                         linking.link_code_for(user), "核验身份证原件")
    db.session.commit()


def test_tenant_self_declares_and_landlord_confirms(landlord, client, db, world, run_jobs):
    address = world["addresses"][0]
    register(landlord, address)
    tenant_api, tenant = user_api(client, db, "o-tenant")
    me = dict(person(), start_date=date.today().isoformat())
    resp = tenant_api.post("/self-declarations", {"qr_token": address.qr_token, "me": me})
    assert resp.status_code == 201 and resp.get_json()["kind"] == "self"
    code = resp.get_json()["receipt_code"]
    run_jobs()
    confirmed = landlord.post(f"/declarations/{code}/confirm")
    assert confirmed.status_code == 200
    # Self-declaring with a number does not make the user that person.
    assert tenant_api.get("/me/registrations").get_json() == []
    link_by_officer(db, tenant, me["document_number"], world["place"]["branch"])
    regs = tenant_api.get("/me/registrations").get_json()
    assert regs[0]["address"] == address.full_text and regs[0]["permit_from"]
    assert regs[0]["status"] == "active"


def test_tenant_confirms_the_landlords_declaration_only_once_proven(landlord, client, db,
                                                                    world):
    house_id = register(landlord, world["addresses"][0]).get_json()["house_id"]
    me = person()
    code = landlord.post(f"/houses/{house_id}/move-ins", {"tenants": [
        dict(me, start_date=date.today().isoformat())]}).get_json()["receipt_code"]
    tenant_api, tenant = user_api(client, db, "o-tenant2")
    typed = tenant_api.post(f"/declarations/{code}/confirm",
                            {"document_number": me["document_number"]})
    assert typed.status_code == 400 and "实名核验" in typed.get_json()["fields"]["real_name"]
    assert db.session.get(WeChatUser, tenant.id).person_id is None
    link_by_officer(db, tenant, me["document_number"], world["place"]["branch"])
    ok = tenant_api.post(f"/declarations/{code}/confirm")
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


def test_landlord_marks_the_house_vacant_through_the_api(landlord, world, db):
    house_id = register(landlord, world["addresses"][0]).get_json()["house_id"]
    resp = landlord.client.put(f"/api/v1/houses/{house_id}/vacancy", json={"is_vacant": True},
                               headers=landlord._headers())
    assert resp.status_code == 200 and resp.get_json()["is_vacant"] is True
    bad = landlord.client.put(f"/api/v1/houses/{house_id}/vacancy", json={"is_vacant": "maybe"},
                              headers=landlord._headers())
    assert bad.status_code == 400 and "is_vacant" in bad.get_json()["fields"]


def test_rejected_house_is_corrected_through_the_api(landlord, world, db):
    from tests.console.helpers import PASSWORD, create_officer
    from app.services.declarations import review

    created = register(landlord, world["addresses"][0]).get_json()
    declaration = db.session.get(Declaration, created["id"])
    if declaration.status in ("received", "validating"):
        declaration.transition("needs_review", "worker")
    place = world["place"]
    officer = create_officer(password=PASSWORD, username="api-po", name="民警", badge_number="AP1",
                             role="station_admin", branch_id=place["branch"].id,
                             station_id=place["station"].id)
    review.reject(declaration, officer, "房间数有误")
    db.session.commit()
    resp = landlord.post(f"/declarations/{declaration.id}/corrections",
                         {"rooms": 4, "monthly_rent": "3000"}, key="fix-house-1")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["kind"] == "correction"
    correction = db.session.get(Declaration, body["id"])
    assert correction.corrects_id == declaration.id
    assert correction.payload["after"]["rooms"] == 4


# -- typed addresses ----------------------------------------------------------------------------

def _typed_world(db):
    from app.services.registry.address_match import scope_cache

    scope_cache.clear()  # ids repeat between tests; a worker's cache lives 5 minutes
    place = make_jurisdiction()
    exact = make_address(place["community"], full_text="安居路88号3幢2单元301室")
    make_address(place["community"], full_text="幸福路5号1幢1单元101室")
    db.session.commit()
    return place, exact


def test_address_match_offers_scored_candidates_within_the_community(landlord, db):
    place, exact = _typed_world(db)
    resp = landlord.get(f"/addresses/match?q=安居路88号3栋2单元301&community_id="
                        f"{place['community'].id}")
    assert resp.status_code == 200
    candidates = resp.get_json()["candidates"]
    assert candidates[0]["address_id"] == exact.id and candidates[0]["score"] > 90
    assert landlord.get("/addresses/match?q=安居路&community_id=").status_code == 400
    listed = landlord.get("/communities").get_json()
    assert {"id": place["community"].id, "name": place["community"].name,
            "station": place["station"].name} in listed


def test_typed_address_that_matches_nothing_goes_to_the_chosen_communitys_station(client, db,
                                                                                 run_jobs):
    place, _ = _typed_world(db)
    other = make_jurisdiction()  # another station: must not receive it
    db.session.commit()
    tenant, _ = user_api(client, db, "o-typed-tenant")
    me = {**person(), "start_date": date.today().isoformat()}
    resp = tenant.post("/self-declarations", {
        "community_id": place["community"].id, "address_text": "城中村某巷7号后楼", "me": me},
        key="typed-1")
    assert resp.status_code == 201, resp.get_json()
    run_jobs()
    db.session.expire_all()
    declaration = db.session.get(Declaration, resp.get_json()["id"])
    assert declaration.kind == "self" and declaration.house_id is None
    assert declaration.station_id == place["station"].id != other["station"].id
    assert declaration.payload["address_text"] == "城中村某巷7号后楼"
    assert declaration.status == "needs_review"
    assert any("社区民警" in r["message"] or "民警确认" in r["message"]
               for r in declaration.reasons)
    missing = tenant.post("/self-declarations", {"address_text": "某处", "me": me})
    assert missing.status_code == 400 and missing.get_json()["fields"]["community_id"] == "请选择所在社区"


def test_typed_dormitory_is_matched_or_kept_for_the_officer(client, db, run_jobs):
    place, exact = _typed_world(db)
    boss, _ = user_api(client, db, "o-typed-boss")
    office = make_address(place["community"])
    db.session.commit()
    employer = boss.post("/employers", {"name": "测试公司", "uscc": fake.uscc(),
                                        "qr_token": office.qr_token, "contact_name": "王",
                                        "contact_phone": fake.mobile()}).get_json()
    hire = boss.post(f"/employers/{employer['employer_id']}/hires", {"workers": [
        {**person(), "start_date": date.today().isoformat(),
         "dormitory_community_id": place["community"].id,
         "dormitory_address_text": "安居路88号3幢2单元301室"},
        {**person(), "start_date": date.today().isoformat(),
         "dormitory_community_id": place["community"].id,
         "dormitory_address_text": "工业区宿舍楼B座"}]}, key="typed-hire")
    assert hire.status_code == 201, hire.get_json()
    run_jobs()
    db.session.expire_all()
    declaration = db.session.get(Declaration, hire.get_json()["id"])
    matched, kept = declaration.payload["workers"]
    from app.models import House

    assert db.session.get(House, matched["dormitory_house_id"]).address_id == exact.id
    assert kept["dormitory_house_id"] is None
    assert kept["dormitory_typed"]["address_text"] == "工业区宿舍楼B座"
    assert declaration.status == "needs_review"
    assert {"field": "workers.1.dormitory_address_text",
            "message": "宿舍地址未能匹配标准地址，需民警确认"} in declaration.reasons
