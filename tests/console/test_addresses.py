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


def test_import_into_a_community_of_another_station_is_refused_by_line(client, world):
    login(client, "station_a")
    resp = client.post("/console/addresses/import", data={
        "file": _csv(world.b.jurisdiction["community"].code, "IMP0002")},
        content_type="multipart/form-data")
    assert "第 2 行：社区不在您的管辖范围内" in resp.get_data(as_text=True)
    assert db.session.execute(select(Address).where(Address.code == "IMP0002")).first() is None


def _upload(text: str):
    return {"file": (io.BytesIO(text.encode("utf-8")), "addresses.csv")}


HEADER = ("code,level,parent_code,community,road,number,building,unit,floor,room,full_text,"
          "aliases,lat,lng,is_residential\n")


def test_station_admin_cannot_rehome_another_stations_address_by_reusing_its_code(client, world):
    theirs = world.b.address
    mine = world.a.jurisdiction["community"]
    login(client, "station_a")
    text = (HEADER + f"IMP0100,building,,{mine.code},导入路,1号,1幢,,,,导入路1号1幢,,,,1\n"
            f"{theirs.code},building,,{mine.code},导入路,2号,1幢,,,,抢过来的楼,,,,1\n")
    resp = client.post("/console/addresses/import", data=_upload(text),
                       content_type="multipart/form-data")
    body = resp.get_data(as_text=True)
    assert f"第 3 行：地址 {theirs.code} 属于您管辖范围外的社区，不能修改" in body
    db.session.expire_all()
    again = db.session.get(Address, theirs.id)
    assert again.community_id == world.b.jurisdiction["community"].id
    assert again.station_id == world.b.jurisdiction["station"].id
    assert again.full_text != "抢过来的楼"


def test_console_import_refuses_a_row_naming_a_community_outside_the_area_by_line(client, world):
    login(client, "station_a")
    mine, theirs = world.a.jurisdiction["community"], world.b.jurisdiction["community"]
    text = (HEADER + f"IMP0200,building,,{mine.code},导入路,3号,1幢,,,,导入路3号1幢,,,,1\n"
            f"IMP0201,building,,{theirs.name},导入路,4号,1幢,,,,导入路4号1幢,,,,1\n")
    resp = client.post("/console/addresses/import", data=_upload(text),
                       content_type="multipart/form-data")
    assert f"第 3 行：社区不在您的管辖范围内：{theirs.name}" in resp.get_data(as_text=True)
    assert db.session.execute(select(Address).where(Address.code == "IMP0201")).first() is None


def test_console_import_with_an_oversized_field_refuses_the_whole_file_before_writing(client,
                                                                                       world):
    theirs = world.b.address
    mine = world.a.jurisdiction["community"]
    login(client, "station_a")
    text = (HEADER + f"IMP0300,building,,{mine.code},导入路,5号,1幢,,,,导入路5号1幢,,,,1\n"
            f"IMP0301,building,,{mine.code},导入路,6号,1幢,,,,\"{'长' * 140000}\",,,,1\n"
            f"{theirs.code},building,,{mine.code},导入路,7号,1幢,,,,抢过来的楼,,,,1\n")
    resp = client.post("/console/addresses/import", data=_upload(text),
                       content_type="multipart/form-data")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "第 3 行" in body and "整个文件未导入" in body
    db.session.expire_all()
    assert db.session.execute(select(Address).where(Address.code == "IMP0300")).first() is None
    assert db.session.get(Address, theirs.id).community_id == world.b.jurisdiction["community"].id
