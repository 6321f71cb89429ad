"""Pre-case cross-check (案前比对): the registered-before-case rule on its edges, the import
(line-numbered errors, idempotent, floating by 户籍, scoped stations) and 漏登 trace-back tasks."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.fakedata import FakeData
from app.models import (
    Alert, Branch, CaseCheck, CaseImport, Community, Employer, Employment, House,
    MissedRegistration, PoliceArea, Residence, Station,
)
from app.services.errors import RuleError, StateConflict
from app.services.police import cases, cases_import, missed
from app.services.registry.address_match import scope_cache
from tests.console.helpers import make_declaration
from tests.factories import make_address, make_person

fake = FakeData(1212)
CASE_DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 25, 2, 0)
LOCAL_END_OF_CASE_DAY = datetime(2026, 11, 20, 16, 0)  # 00:00 on 11-21 in Asia/Shanghai
HEADER = "证件类型,证件号码,姓名,案件编号,案发日期,案发地派出所代码,是否流动人口\n"


def _declared(house, person, *, created_at, start=date(2026, 11, 1), end=None,
              status="verified"):
    d = make_declaration(house.address, status, house_id=house.id)
    d.created_at = created_at
    r = Residence(person_id=person.id, house_id=house.id, start_date=start, end_date=end,
                  declared_by="landlord", status="ended" if end else "active",
                  active_slot=None if end else 1, declaration_id=d.id)
    db.session.add(r)
    db.session.flush()
    return d


def _case(world, person, station=None, day=CASE_DAY, number="A-1"):
    check = CaseCheck(document_type=person.document_type,
                      document_number_enc=person.document_number_enc,
                      document_blind_index=person.document_blind_index,
                      document_masked=person.document_masked, name=person.name,
                      case_number=number, case_date=day,
                      station_id=(station or world.a.jurisdiction["station"]).id,
                      person_id=person.id, is_floating=True)
    db.session.add(check)
    db.session.flush()
    return cases.decide(check, now=NOW)


def test_declared_on_the_case_day_counts_with_the_declaration_as_evidence(world):
    person = make_person(fake.resident_id(), name="案甲")
    # 23:59 local on the case day, in another station of the same branch (the district)
    d = _declared(world.b.house, person, created_at=LOCAL_END_OF_CASE_DAY - timedelta(minutes=1))
    check = _case(world, person)
    assert check.registered_before_case
    assert check.evidence_kind == "residence" and check.evidence_declaration_id == d.id
    assert check.evidence_submitted_at == d.created_at


def test_declared_the_day_after_with_a_move_in_a_month_earlier_is_a_miss(world):
    person = make_person(fake.resident_id(), name="案乙")
    _declared(world.a.house, person, created_at=LOCAL_END_OF_CASE_DAY + timedelta(minutes=30),
              start=date(2026, 10, 20))
    check = _case(world, person)
    assert not check.registered_before_case and check.evidence_declaration_id is None


def test_a_residence_ended_before_the_case_is_a_miss(world):
    person = make_person(fake.resident_id(), name="案丙")
    _declared(world.a.house, person, created_at=datetime(2026, 10, 1),
              start=date(2026, 10, 1), end=CASE_DAY - timedelta(days=1))
    assert not _case(world, person).registered_before_case


def test_a_rejected_declaration_is_a_miss(world):
    person = make_person(fake.resident_id(), name="案丁")
    _declared(world.a.house, person, created_at=datetime(2026, 11, 2), status="rejected")
    assert not _case(world, person).registered_before_case


def test_registered_in_another_branch_is_a_miss(world):
    branch = Branch(code="B-OTHER", name="外分局", region_code="350100")
    db.session.add(branch)
    db.session.flush()
    station = Station(branch_id=branch.id, code="OS1", name="外所")
    db.session.add(station)
    db.session.flush()
    area = PoliceArea(station_id=station.id, code="OA1", name="外警务区")
    db.session.add(area)
    db.session.flush()
    community = Community(police_area_id=area.id, station_id=station.id, code="OC1",
                          name="外社区")
    db.session.add(community)
    db.session.flush()
    address = make_address(community)
    house = House(address_id=address.id, station_id=station.id, police_area_id=area.id,
                  is_rental=True, rooms=1)
    db.session.add(house)
    db.session.flush()
    person = make_person(fake.resident_id(), name="案戊")
    _declared(house, person, created_at=datetime(2026, 11, 2))
    assert not _case(world, person).registered_before_case


def test_an_employment_in_the_district_counts(world):
    person = make_person(fake.resident_id(), name="案己")
    j = world.a.jurisdiction
    employer = Employer(name="测试厂", uscc="91350200MA2Y0000X0", station_id=j["station"].id,
                        police_area_id=j["police_area"].id)
    db.session.add(employer)
    db.session.flush()
    d = make_declaration(world.a.address, "verified", kind="hire")
    d.created_at = datetime(2026, 11, 3)
    db.session.add(Employment(person_id=person.id, employer_id=employer.id,
                              start_date=date(2026, 11, 3), status="active", active_slot=1,
                              declaration_id=d.id))
    db.session.flush()
    check = _case(world, person)
    assert check.registered_before_case and check.evidence_kind == "employment"


def _csv(*lines: str) -> list:
    return cases_import.read_rows("cases.csv", (HEADER + "\n".join(lines) + "\n").encode())


def test_import_reports_bad_rows_by_line_and_imports_the_good_ones(world):
    code = world.a.jurisdiction["station"].code
    good = fake.resident_id(region_code="110105")
    rows = _csv(f"居民身份证,{good},张案,AJ-1,2026-11-20,{code},",
                f"居民身份证,110105194912310000,李案,AJ-2,2026-11-20,{code},",
                f"居民身份证,{fake.resident_id()},王案,AJ-3,2026-13-01,{code},",
                f"居民身份证,{fake.resident_id()},赵案,AJ-4,2026-11-20,NOPE,",
                f"驾驶证,{fake.resident_id()},钱案,AJ-5,2026-11-20,{code},",
                f"居民身份证,{fake.resident_id()},孙案,AJ-6,2026-11-20,{code},也许")
    report = cases.import_rows(rows, now=NOW)
    assert report.imported == 1
    lines = dict(report.errors)
    assert sorted(lines) == [3, 4, 5, 6, 7]
    assert "证件号码" in lines[3] and "案发日期" in lines[4]
    assert "派出所代码" in lines[5] and "证件类型" in lines[6] and "是否流动人口" in lines[7]


def test_reimporting_the_same_file_changes_nothing(world):
    code = world.a.jurisdiction["station"].code
    first_line = f"居民身份证,{fake.resident_id()},张案,AJ-1,2026-11-20,{code},是"
    rows = _csv(first_line, f"居民身份证,{fake.resident_id()},李案,AJ-1,2026-11-20,{code},否",
                first_line)  # the same person twice in one file is stored once
    first = cases.import_rows(rows, now=NOW)
    db.session.commit()
    counts = [db.session.scalar(select(func.count()).select_from(m))
              for m in (CaseCheck, MissedRegistration, Alert)]
    again = cases.import_rows(rows, now=NOW)
    db.session.commit()
    assert (first.imported, first.unchanged, again.imported, again.unchanged) == (2, 1, 0, 3)
    assert [db.session.scalar(select(func.count()).select_from(m))
            for m in (CaseCheck, MissedRegistration, Alert)] == counts == [2, 1, 1]


def test_empty_floating_column_decides_by_the_household_region(world, app):
    code = world.a.jurisdiction["station"].code
    local = fake.resident_id(region_code="350303")  # the test branch's own region code
    outsider = fake.resident_id(region_code="110105")
    cases.import_rows(_csv(f"居民身份证,{local},本地,AJ-9,2026-11-20,{code},",
                           f"居民身份证,{outsider},外地,AJ-9,2026-11-20,{code},"), now=NOW)
    floating = dict(db.session.execute(select(CaseCheck.name, CaseCheck.is_floating)).all())
    assert floating == {"本地": False, "外地": True}
    # BRANCH_REGION_CODES, when set, is what counts as local
    assert cases.local_codes({"BRANCH_REGION_CODES": "110105, 110106"}) == {"110105", "110106"}


def test_a_station_admin_imports_only_for_the_own_station(world):
    own = world.a.jurisdiction["station"].code
    other = world.b.jurisdiction["station"].code
    rows = _csv(f"居民身份证,{fake.resident_id()},甲,AJ-1,2026-11-20,{own},是",
                f"居民身份证,{fake.resident_id()},乙,AJ-2,2026-11-20,{other},是")
    report = cases.import_rows(rows, officer=world.officers["station_admin_a"], now=NOW)
    assert report.imported == 1 and [line for line, _ in report.errors] == [3]
    branch = cases.import_rows(rows, officer=world.officers["branch_admin"], now=NOW)
    assert (branch.imported, branch.unchanged) == (1, 1)
    with pytest.raises(RuleError):
        cases_import.start_import(world.officers["officer_a"], "c.csv", HEADER.encode())


def test_a_floating_miss_becomes_a_trace_back_task_with_an_alert(world):
    code = world.a.jurisdiction["station"].code
    cases.import_rows(_csv(f"居民身份证,{fake.resident_id()},张案,AJ-1,2026-11-20,{code},是"),
                      config={"TRACE_BACK_DAYS": 10}, now=NOW)
    miss = db.session.execute(select(MissedRegistration)).scalar_one()
    assert miss.source == "case" and miss.station_id == world.a.jurisdiction["station"].id
    assert miss.deadline == NOW + timedelta(days=10)
    alert = db.session.execute(select(Alert)).scalar_one()
    assert alert.kind == "missed_registration" and alert.object_id == miss.id


def test_a_later_registration_shows_on_the_task_until_an_officer_closes_it(world):
    person = make_person(fake.resident_id(), name="补登")
    check = _case(world, person)
    miss = missed.open_for_case(check, days=7, now=NOW)
    d = make_declaration(world.a.address, "verified", house_id=world.a.house.id)
    missed.note_registration(miss, d)
    assert miss.status == "open" and miss.registered_declaration_id == d.id
    officer = world.officers["officer_a"]
    with pytest.raises(RuleError) as exc:
        missed.close(miss, officer, outcome="other", note="")
    assert exc.value.field == "note"
    missed.close(miss, officer, outcome="landlord", note="房东承认未申报",
                 address_text="不存在的路999号")
    assert miss.status == "resolved" and miss.outcome.startswith("房东未申报")
    assert miss.actual_address_text == "不存在的路999号" and miss.house_id == world.a.house.id
    alert = db.session.execute(select(Alert).where(Alert.object_id == miss.id)).scalar_one()
    assert alert.status == "closed"
    with pytest.raises(StateConflict):
        missed.close(miss, officer, outcome="landlord")


def test_a_typed_address_matching_the_registry_links_the_house_and_landlord(world):
    person = make_person(fake.resident_id(), name="追溯")
    owner = make_person(fake.resident_id(), name="房东")
    address = make_address(world.a.jurisdiction["community"], road="安居路", number="88号",
                           building="3幢", unit="2单元", room="504室",
                           full_text="安居路88号3幢2单元504室")
    house = House(address_id=address.id, station_id=address.station_id,
                  police_area_id=address.police_area_id, is_rental=True, rooms=1,
                  owner_person_id=owner.id)
    db.session.add(house)
    db.session.flush()
    scope_cache.clear()  # the matcher caches a station's addresses for minutes
    miss = missed.open_for_case(_case(world, person), days=7, now=NOW)
    missed.close(miss, world.officers["station_admin_a"], outcome="landlord",
                 address_text="安居路88号3栋2单元504")
    assert miss.actual_address_id == address.id
    assert (miss.house_id, miss.landlord_person_id) == (house.id, owner.id)


def test_a_large_file_runs_as_a_job_and_counts_its_progress(world, app, tmp_path, run_jobs):
    code = world.a.jurisdiction["station"].code
    body = HEADER + "".join(f"居民身份证,{fake.resident_id()},人{i},AJ-{i},2026-11-20,{code},是\n"
                            for i in range(5))
    config = {"CASE_IMPORT_INLINE_ROWS": 2, "CASE_IMPORT_FOLDER": str(tmp_path)}
    record = cases_import.start_import(world.officers["branch_admin"], "big.csv",
                                       body.encode(), config=config, now=NOW)
    assert record.status == "pending" and record.total == 5 and record.path
    db.session.commit()
    run_jobs()
    record = db.session.get(CaseImport, record.id)
    db.session.refresh(record)
    assert (record.status, record.processed, record.imported) == ("done", 5, 5)
    assert cases_import.progress(record) == 100 and record.path is None


def test_flask_cases_import_command_reads_xlsx_and_reports_by_line(app, world, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(","))
    code = world.a.jurisdiction["station"].code
    sheet.append(["居民身份证", fake.resident_id(), "命令行", "AJ-CLI", date(2026, 11, 20), code, ""])
    sheet.append(["居民身份证", "110105194912310000", "坏号", "AJ-CLI", "2026-11-20", code, ""])
    path = tmp_path / "cases.xlsx"
    book.save(path)
    result = app.test_cli_runner().invoke(args=["cases", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 1 new" in result.output and "第 3 行" in result.output
    again = app.test_cli_runner().invoke(args=["cases", "import", str(path)])
    assert "imported 0 new, unchanged 1" in again.output
    bad = tmp_path / "cases.txt"
    bad.write_text("x")
    refused = app.test_cli_runner().invoke(args=["cases", "import", str(bad)])
    assert refused.exit_code != 0 and ".csv" in refused.output


def test_an_import_keeps_the_first_reasons_and_counts_them_all(world):
    code = world.a.jurisdiction["station"].code
    rows = _csv(*[f"居民身份证,{fake.resident_id()},人{i},AJ-{i},2026-13-01,{code},"
                  for i in range(cases.MAX_ERRORS + 5)])
    report = cases.import_rows(rows, now=NOW)
    assert report.error_count == cases.MAX_ERRORS + 5 and len(report.errors) == cases.MAX_ERRORS
    assert report.errors[0][0] == 2
