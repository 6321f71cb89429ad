"""Address registry in the console: list, search, edit (audited), CSV import into own area only."""
import io

from sqlalchemy import select

from app.extensions import db
from app.models import Address, AuditLog
from tests.console.helpers import login


def test_address_list_searches_by_text_and_filters_plates(as_officer, world):
    a = world.a
    a.address.plate_issued_at = db.func.now()
    db.session.commit()
    html = as_officer.get("/console/addresses", query_string={"q": a.other_address.full_text}
                          ).get_data(as_text=True)
    assert a.other_address.full_text in html and a.address.full_text not in html
    missing = as_officer.get("/console/addresses?plate=missing").get_data(as_text=True)
    assert a.other_address.full_text in missing and a.address.full_text not in missing


def test_editing_an_address_saves_and_audits_the_change(as_officer, world):
    address = world.a.address
    resp = as_officer.post(f"/console/addresses/{address.id}", data={
        "full_text": "测试路1号1幢1单元101室", "road": "测试路", "number": "1号", "building": "",
        "unit": "", "floor": "", "room": "101室", "aliases": "老地址、旧门牌", "status": "active",
        "is_residential": "y"})
    assert resp.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Address, address.id)
    assert saved.full_text == "测试路1号1幢1单元101室"
    assert saved.aliases == ["老地址", "旧门牌"] and saved.building is None
    row = db.session.execute(select(AuditLog).where(AuditLog.action == "address.edit")).scalar_one()
    assert "full_text" in row.detail["changed"]


def test_editing_with_an_empty_full_text_is_refused(as_officer, world):
    resp = as_officer.post(f"/console/addresses/{world.a.address.id}",
                           data={"full_text": "", "status": "active"})
    assert resp.status_code == 400 and "请输入地址全称" in resp.get_data(as_text=True)


def _csv(community_code, code="IMP0001"):
    text = ("code,level,parent_code,community,road,number,building,unit,floor,room,full_text,"
            "aliases,lat,lng,is_residential\n"
            f"{code},building,,{community_code},导入路,9号,1幢,,,,导入路9号1幢,,,,1\n")
    return (io.BytesIO(text.encode("utf-8")), "addresses.csv")


def test_station_admin_imports_addresses_into_own_community(client, world):
    login(client, "station_a")
    resp = client.post("/console/addresses/import", data={
        "file": _csv(world.a.jurisdiction["community"].code)},
        content_type="multipart/form-data")
    assert resp.status_code == 200
    assert "新增 1" in resp.get_data(as_text=True)
    assert db.session.execute(select(Address).where(Address.code == "IMP0001")).scalar_one()


def test_import_into_a_community_of_another_station_is_refused_whole(client, world):
    login(client, "station_a")
    resp = client.post("/console/addresses/import", data={
        "file": _csv(world.b.jurisdiction["community"].code, "IMP0002")},
        content_type="multipart/form-data")
    assert resp.status_code == 400 and "不在您的辖区内" in resp.get_data(as_text=True)
    assert db.session.execute(select(Address).where(Address.code == "IMP0002")).first() is None
