"""KPI dashboard, drill-downs, thresholds, JSON and reports in the console (issue 13): the same
numbers on screen, in the workbook and on paper, scoped to the officer's area."""
from __future__ import annotations

import io
import re
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from app.extensions import db
from app.models import ConsoleNotice, KpiReport
from app.services.kpis import counts as kpi_counts
from app.services.kpis.periods import parse_period
from tests import kpi_factories as kf
from tests.console.helpers import login

PERIOD = "2026-11-H1"


@pytest.fixture()
def data(world):
    """Station A: 7 of 8 found registered (87.5 %), 1 of 3 case persons (33.3 %: call-in),
    2 addresses, 1 plated (50 %); station B: one open alert."""
    a, b = world.a, world.b
    h = db.session.get(type(a.house), a.house.id)
    kf.spot_check(h, kf.beijing(2026, 11, 3), [True] * 7 + [False])
    for registered in (True, False, False):
        kf.case_check(a.jurisdiction["station"], date(2026, 11, 4), registered)
    a.address.plate_issued_at = kf.beijing(2026, 11, 2)
    a.address.created_at = a.other_address.created_at = datetime(2026, 1, 1)
    b.address.created_at = b.other_address.created_at = datetime(2026, 1, 1)
    kf.alert(b.jurisdiction["station"], kf.beijing(2026, 11, 5), False,
             area=b.jurisdiction["police_area"])
    db.session.commit()
    return world


def cell_text(html: str, kpi: str, area_id: int) -> str:
    m = re.search(rf'data-kpi="{kpi}" data-area="{area_id}">\s*<a[^>]*>([^<]+)</a>', html)
    assert m, (kpi, area_id)
    return m.group(1)


def test_branch_dashboard_shows_colour_table_call_in_and_trends(client, data):
    login(client, "branch")
    sa = data.a.jurisdiction["station"].id
    html = client.get(f"/console/kpis?period={PERIOD}&level=station").get_data(as_text=True)
    assert cell_text(html, "spot_check_registration", sa) == "87.5%"
    assert cell_text(html, "pre_case_registration", sa) == "33.3%"
    assert cell_text(html, "address_labelling", sa) == "50.0%"
    assert 'class="kpi-red" data-kpi="pre_case_registration"' in html
    assert "本月案前管控登记率 33.3%（1/3）低于 60%" in html
    assert html.count("<svg") == 6 and "<script" not in html.split("</nav>")[1].split("</main>")[0]


def test_station_admin_dashboard_and_json_show_only_their_station(client, data):
    login(client, "station_a")
    sa, sb = data.a.jurisdiction["station"].id, data.b.jurisdiction["station"].id
    body = client.get(f"/console/kpis.json?period={PERIOD}&level=station").get_json()
    assert [a["area_id"] for a in body["areas"]] == [sa]
    html = client.get(f"/console/kpis?period={PERIOD}&level=station").get_data(as_text=True)
    assert f'data-area-row="{sb}"' not in html and data.b.jurisdiction["station"].name not in html
    # Another station's drill-down is not found, exactly like any other object.
    resp = client.get(f"/console/kpis/records?kpi=alert_handling&level=station&area={sb}"
                      f"&period={PERIOD}")
    assert resp.status_code == 404


def test_plain_officer_gets_no_dashboard(client, data):
    login(client, "officer_a")
    assert client.get("/console/kpis").status_code == 403
    body = client.get(f"/console/kpis.json?period={PERIOD}&level=police_area").get_json()
    assert [a["area_id"] for a in body["areas"]] == [data.a.jurisdiction["police_area"].id]


def test_kpi_json_matches_the_service_and_documents_no_data_as_null(client, data):
    login(client, "branch")
    body = client.get(f"/console/kpis.json?period={PERIOD}&level=station").get_json()
    sa, sb = data.a.jurisdiction["station"].id, data.b.jurisdiction["station"].id
    by_id = {a["area_id"]: a for a in body["areas"]}
    assert by_id[sa]["kpis"]["spot_check_registration"] == {
        "numerator": 7, "denominator": 8, "rate": "0.875", "colour": "green"}
    assert by_id[sb]["kpis"]["spot_check_registration"]["rate"] is None
    assert by_id[sb]["kpis"]["alert_handling"] == {"numerator": 0, "denominator": 1,
                                                   "rate": "0", "colour": "red"}
    assert [c["area_id"] for c in body["call_in"]] == [sa]


@pytest.mark.parametrize("query", ["period=2026-99", "period=x&level=station",
                                   "period=2026-11&level=planet"])
def test_bad_kpi_query_is_a_400_in_chinese_never_a_500(client, data, query):
    login(client, "branch")
    resp = client.get(f"/console/kpis.json?{query}", headers={"Accept": "application/json"})
    assert resp.status_code == 400
    assert re.search("[\u4e00-\u9fff]", resp.get_json()["message"])


def test_drill_down_lists_the_records_behind_a_miss_masked_and_paged(client, data):
    login(client, "branch")
    sa = data.a.jurisdiction["station"].id
    html = client.get(f"/console/kpis/records?kpi=address_labelling&level=station&area={sa}"
                      f"&period={PERIOD}").get_data(as_text=True)
    assert data.a.other_address.code in html and data.a.address.code not in html
    html = client.get(f"/console/kpis/records?kpi=spot_check_registration&level=station&area={sa}"
                      f"&period={PERIOD}").get_data(as_text=True)
    assert "李*四" in html and "李小四" not in html and "********" in html
    html = client.get(f"/console/kpis/records?kpi=pre_case_registration&level=station&area={sa}"
                      f"&period={PERIOD}").get_data(as_text=True)
    assert html.count("王*五") == 2


def test_drill_down_keyset_pages(app, data):
    from app.models import Officer
    from app.services.kpis.drilldown import drill_down

    sa = data.a.jurisdiction["station"]
    for _ in range(5):
        kf.address(data.a.jurisdiction["community"])
    admin = db.session.get(Officer, data.officers["branch_admin"].id)
    first = drill_down("address_labelling", parse_period(PERIOD), "station", sa.id, admin, limit=4)
    assert len(first["rows"]) == 4 and first["next"] == first["rows"][-1]["id"]
    second = drill_down("address_labelling", parse_period(PERIOD), "station", sa.id, admin,
                        limit=4, after=first["next"])
    assert len(second["rows"]) == 2 and second["next"] is None
    assert not {r["id"] for r in first["rows"]} & {r["id"] for r in second["rows"]}


def test_branch_admin_edits_thresholds_as_new_versions(client, data):
    login(client, "branch")
    resp = client.post("/console/kpis/thresholds", data={"kpi": "spot_check_registration",
                                                         "green_min": "90", "yellow_min": "85"})
    assert resp.status_code == 302
    sa = data.a.jurisdiction["station"].id
    body = client.get(f"/console/kpis.json?period={PERIOD}&level=station").get_json()
    entry = [a for a in body["areas"] if a["area_id"] == sa][0]["kpis"]["spot_check_registration"]
    assert entry["colour"] == "yellow"  # 87.5 % under the new green minimum of 90 %
    resp = client.post("/console/kpis/thresholds", data={"kpi": "spot_check_registration",
                                                         "green_min": "50", "yellow_min": "85"})
    assert resp.status_code == 400 and "黄色下限" in resp.get_data(as_text=True)


def test_station_admin_cannot_edit_thresholds(client, data):
    login(client, "station_a")
    resp = client.post("/console/kpis/thresholds", data={"kpi": "spot_check_registration",
                                                         "green_min": "1", "yellow_min": "0"})
    assert resp.status_code == 403


def _generate(client) -> int:
    resp = client.post("/console/kpis/reports", data={"period": PERIOD})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def test_dashboard_xlsx_and_pdf_show_the_same_numbers(client, data):
    login(client, "branch")
    report_id = _generate(client)
    html = client.get(f"/console/kpis?period={PERIOD}&level=station").get_data(as_text=True)
    xlsx = client.get(f"/console/kpis/reports/{report_id}/xlsx")
    assert xlsx.status_code == 200
    wb = load_workbook(io.BytesIO(xlsx.data))
    sheet = wb["分色预警表"]
    header = [c.value for c in sheet[2]]
    rows = {r[0].value: r for r in sheet.iter_rows(min_row=3) if r[1].value}
    pdf_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(
        client.get(f"/console/kpis/reports/{report_id}/pdf").data)).pages)
    for area in (data.a, data.b):
        station = area.jurisdiction["station"]
        row = rows[station.name]
        for i, kpi in enumerate(kpi_counts.KPIS):
            shown = cell_text(html, kpi, station.id)
            assert header[2 + i] == kpi_counts.KPI_LABELS[kpi]
            assert row[2 + i].value == shown, (station.name, kpi)
            assert shown in pdf_text
    red = rows[data.a.jurisdiction["station"].name][2 + kpi_counts.KPIS.index("pre_case_registration")]
    assert red.fill.fgColor.rgb.endswith("FFC7CE")
    assert "33.3%" in pdf_text and "约谈名单" in pdf_text
    assert "1/3" in pdf_text and "7/8" in pdf_text
    calls = [[c.value for c in r] for r in wb["约谈名单"].iter_rows(min_row=2)]
    assert calls[0][0] == data.a.jurisdiction["station"].name and calls[0][5] == "1/3"
    per_kpi = {r[2].value: r for r in wb["抽查登记率"].iter_rows(min_row=3)}
    assert (per_kpi[data.a.jurisdiction["station"].name][3].value,
            per_kpi[data.a.jurisdiction["station"].name][4].value) == (7, 8)


def test_reports_are_for_admins_only_and_plain_officers_cannot_download(client, data):
    login(client, "branch")
    report_id = _generate(client)
    client.post("/console/logout")
    login(client, "officer_a")
    assert client.get(f"/console/kpis/reports/{report_id}/pdf").status_code == 403
    client.post("/console/logout")
    login(client, "station_a")
    assert client.get(f"/console/kpis/reports/{report_id}/xlsx").status_code == 200
    assert client.post("/console/kpis/reports", data={"period": PERIOD}).status_code == 403
    assert client.get("/console/kpis/reports/99999/pdf").status_code == 404


def test_scheduled_report_runs_once_per_half_month_with_two_schedulers(app, data):
    from workers.kpi_jobs import generate_due_kpi_reports

    sixteenth = "2026-11-15T16:30:00"  # 00:30 on the 16th, Beijing time: H1 just ended
    first = generate_due_kpi_reports(sixteenth)
    second = generate_due_kpi_reports("2026-11-16T03:00:00")  # the other scheduler, later
    assert len(first) == 1 and second == []
    [report] = db.session.execute(db.select(KpiReport)).scalars().all()
    assert (report.period, report.schedule_key, report.status) == (
        PERIOD, f"{data.a.jurisdiction['branch'].id}:{PERIOD}", "ready")
    # The next half-month gets its own report.
    assert len(generate_due_kpi_reports("2026-11-30T17:00:00")) == 1
    assert db.session.execute(db.select(KpiReport.period).order_by(KpiReport.id)).scalars().all() == [
        "2026-11-H1", "2026-11-H2"]


def test_a_second_scheduler_racing_for_the_same_half_month_loses_on_the_unique_key(app, data):
    from sqlalchemy.exc import IntegrityError

    from app.services.kpis.reports import claim_scheduled_report

    period = parse_period(PERIOD)
    branch_id = data.a.jurisdiction["branch"].id
    assert claim_scheduled_report(period, branch_id) is not None
    db.session.commit()
    assert claim_scheduled_report(period, branch_id) is None
    # Even past the existence check, the database refuses a second row for the key.
    db.session.add(KpiReport(branch_id=branch_id, period=PERIOD, schedule_key=f"{branch_id}:{PERIOD}"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_station_admins_get_an_in_console_notice_when_the_report_is_ready(client, data):
    from workers.kpi_jobs import generate_due_kpi_reports

    [report_id] = generate_due_kpi_reports("2026-11-15T16:30:00")
    notices = db.session.execute(db.select(ConsoleNotice)).scalars().all()
    assert [n.officer_id for n in notices] == [data.officers["station_admin_a"].id]
    login(client, "station_a")
    home = client.get("/console/").get_data(as_text=True)
    assert "2026年11月上半月工作通报已生成" in home
    assert client.get(f"/console/kpis/reports/{report_id}").status_code == 200
    assert "工作通报已生成" not in client.get("/console/").get_data(as_text=True)


def test_scheduler_declares_the_report_job_as_data():
    from workers.schedule import PERIODIC_JOBS
    from workers.kpi_jobs import generate_due_kpi_reports

    assert any(job is generate_due_kpi_reports for job, *_ in PERIODIC_JOBS)


def test_home_shows_the_officers_own_to_do_counts(client, data):
    ja, jb = data.a.jurisdiction, data.b.jurisdiction
    kf.control_task(ja["station"], datetime(2020, 1, 1), area=ja["police_area"])  # overdue
    kf.control_task(ja["station"], datetime(2099, 1, 1), area=ja["police_area"])
    kf.control_task(jb["station"], datetime(2020, 1, 1), area=jb["police_area"])  # not mine
    kf.alert(ja["station"], kf.beijing(2026, 11, 5), False, area=ja["police_area"])
    db.session.commit()
    login(client, "officer_a")
    html = client.get("/console/").get_data(as_text=True)
    assert re.search(r'data-todo="open_tasks">2<', html)
    assert re.search(r'data-todo="overdue">1<', html)
    assert re.search(r'data-todo="open_alerts">1<', html)


def test_pdf_falls_back_to_the_builtin_cjk_font_when_no_font_file_exists(app, data):
    from app.services.kpis import reports

    font = reports.cjk_font_name((("/nonexistent/font.ttc", 0),))
    assert font == "STSong-Light"
    figures = reports.report_figures(parse_period(PERIOD), data.a.jurisdiction["branch"].id)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(
        reports.build_pdf(figures, font=font))).pages)
    assert "分色预警表" in text and "87.5%" in text and "约谈名单" in text


def test_officer_api_serves_the_same_kpi_table_as_the_console_scoped(client, data):
    from tests.police.api import auth, token_of

    login(client, "branch")
    console = client.get(f"/console/kpis.json?period={PERIOD}&level=station").get_json()
    token = token_of(client, "branch")
    api = client.get(f"/api/v1/officer/kpis?period={PERIOD}&level=station", headers=auth(token))
    assert api.status_code == 200 and api.get_json() == console
    sa = data.a.jurisdiction["station"].id
    mine = client.get(f"/api/v1/officer/kpis?period={PERIOD}&level=station",
                      headers=auth(token_of(client, "station_a"))).get_json()
    assert [a["area_id"] for a in mine["areas"]] == [sa]
    assert mine["areas"][0]["kpis"]["spot_check_registration"]["rate"] == "0.875"


def test_officer_api_kpis_refuse_a_bad_period_naming_the_field(client, data):
    from tests.police.api import auth, token_of

    token = token_of(client, "branch")
    resp = client.get("/api/v1/officer/kpis?period=2026-13", headers=auth(token))
    assert resp.status_code == 400 and "period" in resp.get_json()["fields"]
    assert client.get("/api/v1/officer/kpis").status_code == 401
