"""Address registry CSV import: validation by line, idempotent re-runs, parents in any order."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import Address
from app.services.registry.address_import import import_csv, import_rows
from tests.factories import make_jurisdiction

HEADER = "code,level,parent_code,community,road,number,building,unit,floor,room,full_text,aliases"


@pytest.fixture()
def places(db):
    first, second = make_jurisdiction(), make_jurisdiction()
    db.session.commit()
    return first, second


def write(tmp_path, text: str, encoding: str = "utf-8", name: str = "addresses.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def by_code(db, code: str) -> Address:
    return db.session.execute(select(Address).where(Address.code == code)).scalar_one()


def plates_and_stamps(db) -> dict:
    return {a.code: (a.qr_token, a.updated_at)
            for a in db.session.execute(select(Address)).scalars()}


def count(db) -> int:
    return db.session.execute(select(func.count()).select_from(Address)).scalar_one()


def building_csv(community_code: str, community_name: str) -> str:
    return "\n".join([
        HEADER + ",lat,lng,is_residential",
        f"B1,building,,{community_code},安居路,12号,1幢,,,,安居路12号1幢,安居小区1幢|12号楼,24.4812,118.0876,1",
        f"B1-U1,unit,B1,{community_name},安居路,12号,1幢,1单元,,,安居路12号1幢1单元,,,,",
        f"B1-U1-101,room,B1-U1,{community_code},安居路,12号,1幢,1单元,1,101室,,,,,否",
    ]) + "\n"


def test_good_file_imports_every_row_with_jurisdiction_from_the_community(db, places, tmp_path):
    community = places[0]["community"]
    report = import_csv(write(tmp_path, building_csv(community.code, community.name)))

    assert report.errors == []
    assert (report.inserted, report.updated, report.unchanged, report.total) == (3, 0, 0, 3)
    building, unit, room = by_code(db, "B1"), by_code(db, "B1-U1"), by_code(db, "B1-U1-101")
    assert building.parent_id is None
    assert unit.parent_id == building.id and room.parent_id == unit.id
    assert {a.community_id for a in (building, unit, room)} == {community.id}
    assert room.station_id == community.station_id
    assert room.police_area_id == community.police_area_id
    assert building.aliases == ["安居小区1幢", "12号楼"]
    # MariaDB's FLOAT column gives back 6 significant digits.
    assert building.lat == pytest.approx(24.4812, rel=1e-5)
    assert building.lng == pytest.approx(118.0876, rel=1e-5)
    assert building.is_residential is True and room.is_residential is False
    assert room.full_text == "安居路12号1幢1单元101室"  # composed when full_text is empty
    assert room.level == "room" and room.status == "active" and len(room.qr_token) >= 20


def test_bad_rows_are_reported_by_line_and_good_rows_still_import(db, places, tmp_path):
    c = places[0]["community"].code
    lines = [
        HEADER + ",lat,lng,is_residential",
        f"OK1,building,,{c},安居路,1号,1幢,,,,安居路1号1幢,,,,",                # 2 good
        f",building,,{c},安居路,2号,2幢,,,,安居路2号2幢,,,,",                   # 3 no code
        f"X3,tower,,{c},安居路,3号,3幢,,,,安居路3号3幢,,,,",                    # 4 level
        "X4,building,,不存在社区,安居路,4号,4幢,,,,安居路4号4幢,,,,",            # 5 community
        f"X5,unit,NOPE,{c},安居路,5号,5幢,1单元,,,安居路5号5幢1单元,,,,",       # 6 parent
        f"X6,building,,{c},{'长' * 65},6号,6幢,,,,某地,,,,",                    # 7 road too long
        f"OK1,building,,{c},安居路,1号,1幢,,,,重复的一行,,,,",                   # 8 duplicate
        f"X8,building,,{c},安居路,8号,8幢,,,,安居路8号8幢,,北纬,118.1,",         # 9 lat
        f"X9,building,,{c},安居路,9号,9幢,,,,安居路9号9幢,,24.5,,",             # 10 lat without lng
        f"X10,building,,{c},安居路,10号,10幢,,,,安居路10号10幢,,,,也许",         # 11 residential
        f"X11,building,,{c},安居路,11号,11幢,,,,安居路11号11幢,,95,118,",        # 12 out of range
        f"{'C' * 65},building,,{c},安居路,12号,12幢,,,,安居路12号12幢,,,,",      # 13 code too long
        f"OK2,room,OK1,{c},安居路,1号,1幢,1单元,3,301室,安居路1号1幢1单元301室,,,,",  # 14 good
    ]
    report = import_csv(write(tmp_path, "\n".join(lines) + "\n"))

    reasons = dict(report.errors)
    assert sorted(reasons) == list(range(3, 14))
    assert "缺少地址编码" in reasons[3]
    assert "地址级别无效：tower" in reasons[4]
    assert "社区不存在：不存在社区" in reasons[5]
    assert "上级地址编码不存在：NOPE" in reasons[6]
    assert "道路（road）超过 64 个字符" in reasons[7]
    assert "与第 2 行重复" in reasons[8]
    assert "纬度（lat）不是数字：北纬" in reasons[9]
    assert "同时填写" in reasons[10]
    assert "是否住宅（is_residential）无效：也许" in reasons[11]
    assert "超出范围 -90 到 90" in reasons[12]
    assert "地址编码（code）超过 64 个字符" in reasons[13]
    assert (report.inserted, report.total) == (2, 13)
    assert by_code(db, "OK1").full_text == "安居路1号1幢"  # the first of two duplicates wins
    assert by_code(db, "OK2").parent_id == by_code(db, "OK1").id
    assert count(db) == 2


def test_a_row_with_several_problems_is_one_error_naming_each(db, places, tmp_path):
    report = import_csv(write(tmp_path, HEADER + "\n,castle,,火星社区,,,,,,,,\n"))
    assert len(report.errors) == 1
    line, reason = report.errors[0]
    assert line == 2
    for part in ("缺少地址编码", "地址级别无效：castle", "社区不存在：火星社区", "缺少完整地址"):
        assert part in reason


def test_rerunning_the_same_file_changes_nothing_and_keeps_qr_tokens(db, places, tmp_path):
    community = places[0]["community"]
    path = write(tmp_path, building_csv(community.code, community.name))
    import_csv(path)
    before = plates_and_stamps(db)
    db.session.expire_all()

    again = import_csv(path)

    assert (again.inserted, again.updated, again.unchanged, again.total) == (0, 0, 3, 3)
    assert again.errors == []
    assert plates_and_stamps(db) == before


def test_changed_fields_are_updated_and_the_qr_token_is_kept(db, places, tmp_path):
    first, second = places[0]["community"], places[1]["community"]
    import_csv(write(tmp_path, building_csv(first.code, first.name)))
    token = by_code(db, "B1").qr_token
    db.session.expire_all()

    changed = building_csv(first.code, first.name).replace(
        f"B1,building,,{first.code},安居路,12号,1幢,,,,安居路12号1幢,安居小区1幢|12号楼,24.4812,118.0876,1",
        f"B1,building,,{second.code},安居路,14号,1幢,,,,安居路14号1幢,新村1幢,24.4901,118.0876,1")
    report = import_csv(write(tmp_path, changed, name="changed.csv"))

    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 2)
    building = by_code(db, "B1")
    assert building.qr_token == token
    assert building.number == "14号" and building.full_text == "安居路14号1幢"
    assert building.aliases == ["新村1幢"] and building.lat == pytest.approx(24.4901, rel=1e-5)
    assert building.community_id == second.id and building.station_id == second.station_id
    assert building.police_area_id == second.police_area_id


def test_columns_absent_from_the_file_are_left_as_they_were(db, places, tmp_path):
    community = places[0]["community"]
    import_csv(write(tmp_path, building_csv(community.code, community.name)))
    db.session.expire_all()
    narrow = f"code,level,community,full_text\nB1,building,{community.code},安居路12号1幢\n"

    report = import_csv(write(tmp_path, narrow, name="narrow.csv"))

    assert (report.updated, report.unchanged) == (0, 1)
    building = by_code(db, "B1")
    assert building.aliases == ["安居小区1幢", "12号楼"] and building.road == "安居路"
    assert building.lat == pytest.approx(24.4812, rel=1e-5)


def test_parent_listed_later_in_the_file_is_resolved(db, places, tmp_path):
    c = places[0]["community"].code
    text = "\n".join([
        HEADER,
        f"R-101,room,U-1,{c},和平路,8号,2幢,1单元,1,101室,和平路8号2幢1单元101室,",
        f"U-1,unit,B-2,{c},和平路,8号,2幢,1单元,,,和平路8号2幢1单元,",
        f"B-2,building,,{c},和平路,8号,2幢,,,,和平路8号2幢,",
    ]) + "\n"

    report = import_csv(write(tmp_path, text), batch_size=1)

    assert report.errors == [] and report.inserted == 3
    assert by_code(db, "R-101").parent_id == by_code(db, "U-1").id
    assert by_code(db, "U-1").parent_id == by_code(db, "B-2").id


def test_parent_already_in_the_database_is_resolved(db, places, tmp_path):
    c = places[0]["community"].code
    import_csv(write(tmp_path, f"{HEADER}\nB-9,building,,{c},和平路,9号,9幢,,,,和平路9号9幢,\n"))

    report = import_csv(write(tmp_path, f"{HEADER}\nU-9,unit,B-9,{c},和平路,9号,9幢,1单元,,,"
                                        f"和平路9号9幢1单元,\n", name="units.csv"))

    assert report.errors == [] and report.inserted == 1
    assert by_code(db, "U-9").parent_id == by_code(db, "B-9").id


def test_child_of_a_rejected_row_is_rejected_naming_that_row(db, places, tmp_path):
    c = places[0]["community"].code
    text = "\n".join([
        HEADER,
        f"B-1,building,,没有这个社区,和平路,1号,1幢,,,,和平路1号1幢,",
        f"U-1,unit,B-1,{c},和平路,1号,1幢,1单元,,,和平路1号1幢1单元,",
        f"R-1,room,U-1,{c},和平路,1号,1幢,1单元,1,101室,和平路1号1幢1单元101室,",
    ]) + "\n"

    report = import_csv(write(tmp_path, text))

    assert report.errors == [
        (2, "社区不存在：没有这个社区"),
        (3, "上级地址 B-1（第 2 行）有错误，未导入"),
        (4, "上级地址 U-1（第 3 行）有错误，未导入"),
    ]
    assert count(db) == 0


def test_parent_cycles_and_self_parents_are_rejected(db, places, tmp_path):
    c = places[0]["community"].code
    text = "\n".join([
        HEADER,
        f"A,building,B,{c},,,,,,,甲,",
        f"B,building,A,{c},,,,,,,乙,",
        f"S,building,S,{c},,,,,,,丙,",
        f"K,unit,A,{c},,,,,,,丁,",
    ]) + "\n"

    reasons = dict(import_csv(write(tmp_path, text)).errors)

    assert reasons[2].startswith("上级地址形成循环") and reasons[3].startswith("上级地址形成循环")
    assert reasons[4] == "上级地址编码不能是本地址自身"
    assert reasons[5] == "上级地址 A（第 2 行）有错误，未导入"
    assert count(db) == 0


def test_utf8_file_with_bom_and_crlf_imports(db, places, tmp_path):
    community = places[0]["community"]
    text = building_csv(community.code, community.name).replace("\n", "\r\n")
    report = import_csv(write(tmp_path, text, encoding="utf-8-sig"))
    assert report.errors == [] and report.inserted == 3


def test_non_utf8_file_is_refused_with_a_chinese_reason(db, places, tmp_path):
    community = places[0]["community"]
    text = building_csv(community.code, community.name)
    report = import_csv(write(tmp_path, text, encoding="gbk"))
    assert report.inserted == 0 and len(report.errors) == 1
    assert "UTF-8" in report.errors[0][1]
    assert count(db) == 0


def test_chinese_level_names_are_accepted(db, places, tmp_path):
    c = places[0]["community"].code
    text = "\n".join([
        HEADER,
        f"L1,楼栋,,{c},,,,,,,一号楼,",
        f"L2,幢,,{c},,,,,,,二号楼,",
        f"L1-1,单元,L1,{c},,,,,,,一号楼一单元,",
        f"L1-1-1,房间,L1-1,{c},,,,,,,一号楼一单元101,",
        f"L1-1-2,室,L1-1,{c},,,,,,,一号楼一单元102,",
        f"L1-1-3,Room,L1-1,{c},,,,,,,一号楼一单元103,",
    ]) + "\n"

    report = import_csv(write(tmp_path, text))

    assert report.errors == [] and report.inserted == 6
    levels = dict(db.session.execute(select(Address.code, Address.level)).all())
    assert levels == {"L1": "building", "L2": "building", "L1-1": "unit", "L1-1-1": "room",
                      "L1-1-2": "room", "L1-1-3": "room"}


def test_unknown_or_missing_columns_refuse_the_whole_file(db, places, tmp_path):
    c = places[0]["community"].code
    report = import_csv(write(tmp_path, f"code,level,community,full_text,bulding\n"
                                        f"B1,building,{c},一号楼,1幢\n"))
    assert report.errors[0][0] == 1 and "未知的列：bulding" in report.errors[0][1]

    report = import_csv(write(tmp_path, "code,full_text\nB1,一号楼\n", name="narrow.csv"))
    assert "缺少必需的列：level、community" in report.errors[0][1]
    assert count(db) == 0


def test_codes_differing_only_in_case_are_duplicates_and_codes_are_plain_ascii(db, places,
                                                                               tmp_path):
    c = places[0]["community"].code
    report = import_csv(write(tmp_path, f"{HEADER}\nab-1,building,,{c},,,,,,,甲,\n"
                                        f"AB-1,building,,{c},,,,,,,乙,\n"
                                        f"ＡＢ-2,building,,{c},,,,,,,丙,\n"
                                        f"楼-3,building,,{c},,,,,,,丁,\n"))
    assert report.errors == [(3, "地址编码 AB-1 与第 2 行重复"),
                             (5, "地址编码只能由字母、数字和 - _ . 组成：楼-3")]
    assert report.inserted == 2
    assert by_code(db, "AB-2").full_text == "丙"  # full-width letters are folded


def test_import_rows_takes_dicts_and_alias_lists_without_a_file(db, places):
    community = places[0]["community"]
    rows = [
        {"code": "D-1", "level": "unit", "parent_code": "D", "community": community.name,
         "full_text": "示范路1号1单元", "aliases": ["示范1单元"]},
        {"code": "D", "level": "building", "community": community.code, "road": "示范路",
         "number": "1号", "lat": 24.5, "lng": 118.1, "is_residential": False},
        {"code": "D-2", "level": "unit", "parent_code": "D"},
    ]

    report = import_rows(rows, commit=False)
    db.session.commit()

    assert report.errors == [(3, "缺少社区（community）；缺少完整地址（full_text），也无法由道路、门牌号等拼出")]
    assert report.inserted == 2
    building = by_code(db, "D")
    assert building.full_text == "示范路1号" and building.is_residential is False
    assert by_code(db, "D-1").aliases == ["示范1单元"]
    assert by_code(db, "D-1").parent_id == building.id
    assert import_rows(rows[:2]).unchanged == 2


def test_cli_imports_the_file_and_prints_errors_by_line(app, db, places, tmp_path):
    community = places[0]["community"]
    text = building_csv(community.code, community.name) + \
        f"BAD,floor,,{community.code},,,,,,,某处,,,,\n"
    path = write(tmp_path, text)

    result = app.test_cli_runner().invoke(args=["addresses", "import", path])

    assert result.exit_code == 0, result.output
    assert "第 5 行: 地址级别无效：floor" in result.stderr
    assert "imported 3 new, updated 0, rejected 1 of 4 rows" in result.stdout
    assert count(db) == 3


def test_scoped_import_refuses_rows_outside_the_given_communities(db, places, tmp_path):
    mine, theirs = places[0]["community"], places[1]["community"]
    import_csv(write(tmp_path, f"{HEADER}\nT-1,building,,{theirs.code},,,,,,,他们的楼,\n"))
    text = "\n".join([
        HEADER,
        f"M-1,building,,{mine.code},,,,,,,我的楼,",
        f"M-2,building,,{theirs.name},,,,,,,想建到别人辖区,",
        f"T-1,building,,{mine.code},,,,,,,想把别人的楼挪过来,",
    ]) + "\n"

    report = import_csv(write(tmp_path, text, name="scoped.csv"), community_ids={mine.id})

    assert report.errors == [(3, f"社区不在您的管辖范围内：{theirs.name}"),
                             (4, "地址 T-1 属于您管辖范围外的社区，不能修改")]
    assert report.inserted == 1
    assert by_code(db, "T-1").community_id == theirs.id and by_code(db, "T-1").full_text == "他们的楼"


def test_a_field_over_the_csv_limit_refuses_the_whole_file_before_anything_is_written(
        db, places, tmp_path):
    c = places[0]["community"].code
    text = "\n".join([
        HEADER,
        f"OK-1,building,,{c},,,,,,,好楼,",
        f"BIG-1,building,,{c},,,,,,,\"{'长' * 140000}\",",
        f"OK-2,building,,{c},,,,,,,也是好楼,",
    ]) + "\n"

    report = import_csv(write(tmp_path, text))

    assert report.inserted == 0 and report.total == 0
    assert len(report.errors) == 1 and report.errors[0][0] == 3
    assert "整个文件未导入" in report.errors[0][1]
    assert count(db) == 0


def test_an_unterminated_quote_refuses_the_whole_file_with_its_line(db, places, tmp_path):
    c = places[0]["community"].code
    text = f"{HEADER}\nOK-1,building,,{c},,,,,,,好楼,\nBAD,building,,{c},,,,,,,\"坏\0楼,\n"

    report = import_csv(write(tmp_path, text))

    assert report.inserted == 0 and report.errors and report.errors[0][0] == 3
    assert count(db) == 0


def test_cli_import_by_a_system_operator_is_not_limited_to_an_area(app, db, places, tmp_path):
    first, second = places[0]["community"], places[1]["community"]
    text = (f"{HEADER}\nCLI-1,building,,{first.code},,,,,,,甲楼,\n"
            f"CLI-2,building,,{second.code},,,,,,,乙楼,\n")
    result = app.test_cli_runner().invoke(args=["addresses", "import", write(tmp_path, text)])
    assert result.exit_code == 0, result.output
    assert by_code(db, "CLI-1").community_id == first.id
    assert by_code(db, "CLI-2").community_id == second.id


def test_scoped_import_refuses_a_parent_outside_the_given_communities(db, places, tmp_path):
    mine, theirs = places[0]["community"], places[1]["community"]
    import_csv(write(tmp_path, f"{HEADER}\nT-9,building,,{theirs.code},,,,,,,他们的楼,\n"))
    text = f"{HEADER}\nM-9,unit,T-9,{mine.code},,,,,,,挂到别人楼下,\n"

    report = import_csv(write(tmp_path, text, name="scoped.csv"), community_ids={mine.id})

    assert report.errors == [(2, "上级地址 T-9 属于您管辖范围外的社区，不能挂靠")]
    assert report.inserted == 0


def test_a_community_name_is_unique_within_its_station_not_across_stations(db, places):
    from sqlalchemy.exc import IntegrityError

    from app.models import Community

    first, second = places
    twin = Community(police_area_id=second["police_area"].id, station_id=second["station"].id,
                     code="TWIN-C", name=first["community"].name)
    db.session.add(twin)
    db.session.commit()  # same name in another station: allowed
    db.session.add(Community(police_area_id=first["police_area"].id,
                             station_id=first["station"].id, code="TWIN-D",
                             name=first["community"].name))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_community_name_shared_by_two_stations_must_be_given_by_code(db, places, tmp_path):
    from app.models import Community

    first, second = places
    name = first["community"].name
    twin = Community(police_area_id=second["police_area"].id, station_id=second["station"].id,
                     code="TWIN-C", name=name)
    db.session.add(twin)
    db.session.commit()
    csv = f"code,level,community,full_text\nN1,building,{name},安居路1号1幢\n" \
          f"N2,building,TWIN-C,安居路2号1幢\n"
    report = import_csv(write(tmp_path, csv))
    assert report.inserted == 1
    assert "社区名称在多个派出所重复" in report.errors[0][1]
    assert by_code(db, "N2").community_id == twin.id
    # An officer whose scope holds one of the two may still use the name.
    scoped = import_csv(write(tmp_path, csv.replace("N1", "N3").replace("N2", "N4"), name="b.csv"),
                        community_ids={twin.id})
    assert scoped.inserted == 2 and by_code(db, "N3").community_id == twin.id
