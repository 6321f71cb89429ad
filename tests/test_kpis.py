"""Every KPI on hand-built data with a known answer, including the edge cases in docs/KPIS.md."""
from __future__ import annotations

from datetime import date, datetime
from fractions import Fraction

import pytest

from app.models import Officer, Residence
from app.services.errors import RuleError
from app.services.kpis import compute as kc
from app.services.kpis import counts as kpi_counts
from app.services.kpis.periods import half_month_just_ended, parse_period
from app.services.kpis.thresholds import current_thresholds, set_thresholds
from tests import kpi_factories as kf
from tests.factories import make_jurisdiction

H1 = parse_period("2026-11-H1")
H2 = parse_period("2026-11-H2")
NOV = parse_period("2026-11")


def figure(kpi, period, level, area_id, **kw):
    return kc.compute(period, level, kpis=(kpi,), **kw)[kpi].get(area_id, kpi_counts.Figure(0, 0))


@pytest.fixture()
def j(db):
    return make_jurisdiction("K")


def branch_admin(j) -> Officer:
    o = kf.officer(j["station"])
    o.role, o.station_id = "branch_admin", None
    return o


def test_periods_are_local_half_months_bounded_at_beijing_midnight():
    assert H1.utc_start == datetime(2026, 10, 31, 16, 0)
    assert H1.utc_end == datetime(2026, 11, 15, 16, 0) == H2.utc_start
    assert H2.utc_end == datetime(2026, 11, 30, 16, 0) == NOV.utc_end
    assert parse_period("2026-02-h2").end_date == date(2026, 3, 1)
    assert H1.previous().key == "2026-10-H2" and H2.previous().key == "2026-11-H1"
    assert NOV.previous().key == "2026-10" and parse_period("2026-01").previous().key == "2025-12"
    # On the 16th (Beijing) the half-month just ended is H1; on the 1st it is last month's H2.
    assert half_month_just_ended(datetime(2026, 11, 15, 16, 30)).key == "2026-11-H1"
    assert half_month_just_ended(datetime(2026, 11, 30, 17, 0)).key == "2026-11-H2"


@pytest.mark.parametrize("text", ["2026-13", "2026/11", "2026-11-H3", "", None, "26-11"])
def test_bad_period_is_refused_in_chinese(text):
    with pytest.raises(RuleError) as err:
        parse_period(text)
    assert "统计周期" in err.value.message


def test_rates_show_one_decimal_cut_never_rounded_across_a_threshold():
    assert kc.percent_text(Fraction(7, 8)) == "87.5%"
    assert kc.percent_text(Fraction(7996, 10000)) == "79.9%"
    assert kc.percent_text(None) == "无数据"
    assert kc.rate_text(Fraction(7, 8)) == "0.875"
    assert kc.rate_text(Fraction(2, 3)) == "0.6666"
    assert kc.rate_text(Fraction(1)) == "1" and kc.rate_text(Fraction(0)) == "0"


def test_address_labelling_counts_plate_levels_active_and_issued_by_period_end(j):
    c = j["community"]
    kf.address(c, level="building", plate_issued_at=kf.beijing(2026, 11, 10))
    kf.address(c, level="room", plate_issued_at=kf.beijing(2026, 11, 15, 23, 59))  # still H1
    kf.address(c, level="room", plate_issued_at=datetime(2026, 11, 15, 16, 0))  # 00:00 16th: H2
    kf.address(c, level="room")  # no plate
    kf.address(c, level="unit", plate_issued_at=kf.beijing(2026, 11, 1))  # not a plate level
    kf.address(c, level="room", status="retired", plate_issued_at=kf.beijing(2026, 11, 1))
    kf.address(c, level="room", created_at=kf.beijing(2026, 11, 20))  # did not exist in H1
    f = figure("address_labelling", H1, "community", c.id)
    assert (f.numerator, f.denominator, f.rate) == (2, 4, Fraction(1, 2))
    f2 = figure("address_labelling", H2, "community", c.id)
    assert (f2.numerator, f2.denominator) == (3, 5)
    # The plate-carrying levels are a setting.
    f3 = figure("address_labelling", H1, "community", c.id, plate_levels=("unit",))
    assert (f3.numerator, f3.denominator) == (1, 1)


def test_house_collection_counts_only_active_leaf_addresses(j):
    c = j["community"]
    building = kf.address(c, level="building")
    room1 = kf.address(c, level="room", parent_id=building.id)
    room2 = kf.address(c, level="room", parent_id=building.id)
    kf.house(room1, collected_at=kf.beijing(2026, 11, 3))
    kf.house(room2, collected_at=kf.beijing(2026, 11, 16, 0, 0))  # collected in H2
    lone = kf.address(c, level="building")  # leaf: its only child is retired
    kf.address(c, level="room", parent_id=lone.id, status="retired")
    kf.house(lone)
    kf.house(building)  # a house on a non-leaf address does not count
    retired = kf.address(c, level="room", status="retired")
    kf.house(retired)
    f = figure("house_collection", H1, "community", c.id)
    assert (f.numerator, f.denominator) == (2, 3)  # room1 and lone, of room1, room2, lone
    f2 = figure("house_collection", H2, "community", c.id)
    assert (f2.numerator, f2.denominator) == (3, 3)


def test_spot_check_registration_by_check_time_with_beijing_bounds(j):
    c = j["community"]
    h = kf.house(kf.address(c))
    kf.spot_check(h, kf.beijing(2026, 11, 15, 23, 59), [True, True, False])  # H1
    kf.spot_check(h, datetime(2026, 11, 15, 16, 0), [False])  # 00:00 on the 16th: H2
    kf.spot_check(h, kf.beijing(2026, 10, 31, 23, 59), [False])  # October
    f = figure("spot_check_registration", H1, "community", c.id)
    assert (f.numerator, f.denominator) == (2, 3)
    f2 = figure("spot_check_registration", H2, "station", j["station"].id)
    assert (f2.numerator, f2.denominator) == (0, 1)
    month = figure("spot_check_registration", NOV, "branch", j["branch"].id)
    assert (month.numerator, month.denominator) == (2, 4)


def test_pre_case_registration_by_local_case_date_floating_only_and_attribution(j):
    station = j["station"]
    other = make_jurisdiction("K")
    home = kf.house(kf.address(j["community"]))
    resident = kf.person()
    from app.extensions import db
    db.session.add(Residence(person_id=resident.id, house_id=home.id, start_date=date(2026, 6, 1),
                             declared_by="landlord", status="active"))
    db.session.flush()
    kf.case_check(station, date(2026, 11, 15), True, person_obj=resident)  # H1, home known
    kf.case_check(station, date(2026, 11, 1), False)  # H1, residence unknown
    kf.case_check(station, date(2026, 11, 16), False)  # H2
    kf.case_check(station, date(2026, 11, 2), False, floating=False)  # not floating: out
    f = figure("pre_case_registration", H1, "station", station.id)
    assert (f.numerator, f.denominator) == (1, 2)
    # Below the station only the case whose residence is known (and in that station) counts.
    fc = figure("pre_case_registration", H1, "community", j["community"].id)
    assert (fc.numerator, fc.denominator) == (1, 1)
    fo = figure("pre_case_registration", H1, "community", other["community"].id)
    assert fo.denominator == 0
    assert figure("pre_case_registration", H2, "station", station.id).denominator == 1


def test_control_timeliness_counts_due_tasks_completed_by_deadline(j):
    s, a = j["station"], j["police_area"]
    due = kf.beijing(2026, 11, 10)
    kf.control_task(s, due, "done", completed_at=kf.beijing(2026, 11, 9), area=a)  # on time
    kf.control_task(s, due, "done", completed_at=due, area=a)  # exactly at the deadline
    kf.control_task(s, due, "done", completed_at=kf.beijing(2026, 11, 11), area=a)  # late
    kf.control_task(s, due, "open", area=a)  # overdue
    kf.control_task(s, due, "cancelled", area=a)  # not counted
    kf.control_task(s, kf.beijing(2026, 11, 15, 23, 59), "open", area=a)  # due 23:59 on 15th
    as_of = kf.beijing(2026, 11, 12)  # the last one is not yet due
    f = figure("control_timeliness", H1, "police_area", a.id, as_of=as_of)
    assert (f.numerator, f.denominator) == (2, 4)
    later = figure("control_timeliness", H1, "police_area", a.id, as_of=kf.beijing(2026, 12, 1))
    assert (later.numerator, later.denominator) == (2, 5)


def test_alert_handling_closed_over_raised_in_period(j):
    s, a = j["station"], j["police_area"]
    kf.alert(s, kf.beijing(2026, 11, 1, 0, 0), True, area=a)  # first minute of H1
    kf.alert(s, kf.beijing(2026, 11, 5), False, area=a)
    kf.alert(s, kf.beijing(2026, 11, 5), True)  # no police area: station level only
    kf.alert(s, datetime(2026, 10, 31, 15, 59), True, area=a)  # 23:59 on 31 Oct: October
    f = figure("alert_handling", H1, "station", s.id)
    assert (f.numerator, f.denominator) == (2, 3)
    fa = figure("alert_handling", H1, "police_area", a.id)
    assert (fa.numerator, fa.denominator) == (1, 2)


def test_empty_denominator_is_no_data_never_zero_or_hundred(j):
    admin = branch_admin(j)
    table = kc.kpi_table("2026-11-H1", "station", admin)
    entry = table["areas"][0]["kpis"]["alert_handling"]
    assert entry == {"numerator": 0, "denominator": 0, "rate": None, "colour": "none"}
    full = kc.colour_table(H1, "station", admin)
    assert full["areas"][0]["kpis"]["alert_handling"]["percent"] == "无数据"
    assert full["call_in"] == []  # no data never calls a station in


def test_kpi_table_shape_colours_and_call_in(j):
    s = j["station"]
    h = kf.house(kf.address(j["community"]))
    kf.spot_check(h, kf.beijing(2026, 11, 3), [True] * 7 + [False])  # 87.5 %: green
    for registered in (True, False, False):
        kf.case_check(s, date(2026, 11, 4), registered)  # 33.3 %: red, and a call-in
    admin = branch_admin(j)
    table = kc.kpi_table(H1, "station", admin)
    assert table["period"] == "2026-11-H1" and table["level"] == "station"
    area = table["areas"][0]
    assert (area["area_id"], area["area_code"], area["name"]) == (s.id, s.code, s.name)
    assert set(area["kpis"]) == set(kpi_counts.KPIS)
    assert area["kpis"]["spot_check_registration"] == {
        "numerator": 7, "denominator": 8, "rate": "0.875", "colour": "green"}
    assert area["kpis"]["pre_case_registration"]["colour"] == "red"
    [call] = table["call_in"]
    assert call["area_id"] == s.id
    assert call["pre_case_registration_month"]["percent"] == "33.3%"
    assert "本月案前管控登记率 33.3%（1/3）低于 60%" in call["reasons"]


def test_call_in_for_spot_check_under_80_percent(j):
    h = kf.house(kf.address(j["community"]))
    kf.spot_check(h, kf.beijing(2026, 11, 20), [True] * 79 + [False] * 21)  # 79 %
    table = kc.kpi_table(H2, "station", branch_admin(j))
    [call] = table["call_in"]
    assert call["spot_check_registration"]["percent"] == "79.0%"
    assert table["areas"][0]["kpis"]["spot_check_registration"]["colour"] == "yellow"


def test_thresholds_are_versioned_and_colour_by_exact_rate(j):
    admin = branch_admin(j)
    assert current_thresholds().colour("alert_handling", Fraction(79, 100)) == "yellow"
    first = set_thresholds("alert_handling", "90", "70", admin)
    second = set_thresholds("alert_handling", "95", "75", admin)
    t = current_thresholds()
    assert t.bounds("alert_handling") == (95, 75)
    assert t.as_json()["alert_handling"]["version"] == second.id != first.id
    assert t.colour("alert_handling", Fraction(74, 100)) == "red"
    assert t.colour("alert_handling", Fraction(95, 100)) == "green"
    assert t.colour("spot_check_registration", Fraction(80, 100)) == "green"  # default


@pytest.mark.parametrize("green,yellow", [("50", "60"), ("abc", "1"), ("101", "50"),
                                          ("80.555", "60"), ("NaN", "1")])
def test_bad_thresholds_are_refused(j, green, yellow):
    with pytest.raises(RuleError):
        set_thresholds("alert_handling", green, yellow, branch_admin(j))


def test_only_branch_admins_may_change_thresholds(j):
    o = kf.officer(j["station"])
    o.role = "station_admin"
    with pytest.raises(RuleError) as err:
        set_thresholds("alert_handling", "90", "70", o)
    assert "分局管理员" in err.value.message


def test_month_over_month_change_and_red_areas_become_focus_areas(j):
    h = kf.house(kf.address(j["community"]))
    kf.spot_check(h, kf.beijing(2026, 10, 10), [True, False])  # October: 50 %, red
    kf.spot_check(h, kf.beijing(2026, 11, 10), [True, True, True, False])  # November: 75 %
    table = kc.colour_table(NOV, "station", branch_admin(j))
    entry = table["areas"][0]["kpis"]["spot_check_registration"]
    assert entry["previous"]["colour"] == "red" and entry["colour"] == "yellow"
    assert entry["change"] == "+25.0"
    assert table["areas"][0]["focus"] is True
    [focus] = [f for f in table["focus_areas"] if f["kpi"] == "spot_check_registration"]
    assert (focus["kpi"], focus["previous_percent"], focus["percent"]) == (
        "spot_check_registration", "50.0%", "75.0%")


def test_station_admin_sees_only_their_station_areas(j):
    other = make_jurisdiction("K")
    kf.address(other["community"], plate_issued_at=kf.beijing(2026, 11, 1))
    admin = kf.officer(j["station"])
    admin.role = "station_admin"
    table = kc.kpi_table(H1, "station", admin)
    assert [a["area_id"] for a in table["areas"]] == [j["station"].id]
    communities = kc.kpi_table(H1, "community", admin)
    assert [a["area_id"] for a in communities["areas"]] == [j["community"].id]
    with pytest.raises(RuleError):
        kc.kpi_table(H1, "branch", admin)


def test_plain_officer_sees_only_own_police_area_levels(j):
    o = kf.officer(j["station"], j["police_area"])
    assert [a["area_id"] for a in kc.kpi_table(H1, "police_area", o)["areas"]] == [
        j["police_area"].id]
    with pytest.raises(RuleError):
        kc.kpi_table(H1, "station", o)
    assert kc.kpi_table(H1, "police_area", o)["call_in"] == []


def test_call_in_uses_the_whole_months_pre_case_rate_for_a_second_half(j):
    s = j["station"]
    for registered in (True, True):
        kf.case_check(s, date(2026, 11, 10), registered)
    for registered in (True, False):
        kf.case_check(s, date(2026, 11, 20), registered)
    admin = branch_admin(j)
    h2 = kc.kpi_table(H2, "station", admin)
    assert h2["areas"][0]["kpis"]["pre_case_registration"]["rate"] == "0.5"  # the half alone
    assert h2["call_in"] == []  # the month: 3/4 = 75 %
    for registered in (False, False):
        kf.case_check(s, date(2026, 11, 25), registered)
    [call] = kc.kpi_table(H2, "station", admin)["call_in"]
    assert call["pre_case_registration_month"] == {
        "period": "2026-11", "numerator": 3, "denominator": 6, "rate": "0.5", "percent": "50.0%"}


def test_house_drill_down_lists_exactly_the_counted_misses(j):
    from app.services.kpis.drilldown import drill_down

    c = j["community"]
    building = kf.address(c, level="building")
    rooms = [kf.address(c, level="room", parent_id=building.id) for _ in range(3)]
    kf.house(rooms[0], collected_at=kf.beijing(2026, 11, 3))
    kf.house(rooms[1], collected_at=kf.beijing(2026, 11, 20))  # after H1: still a miss in H1
    lone = kf.address(c, level="building")
    kf.address(c, level="room", parent_id=lone.id, status="retired")
    kf.house(building)  # on a non-leaf: neither counted nor listed
    page = drill_down("house_collection", H1, "community", c.id, branch_admin(j))
    f = figure("house_collection", H1, "community", c.id)
    assert sorted(r["id"] for r in page["rows"]) == sorted([rooms[1].id, rooms[2].id, lone.id])
    assert len(page["rows"]) == f.denominator - f.numerator
