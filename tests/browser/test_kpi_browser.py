"""The KPI colour table in a real browser: the colours are really painted (the CSP refuses inline
styles, so they must come from the console's stylesheet)."""
from __future__ import annotations

from datetime import date

from app.extensions import db
from app.services.accounts.officers import create_officer
from tests import kpi_factories as kf
from tests.factories import make_jurisdiction

PASSWORD = "Liulanqi-ceshi-2026"


def test_a_station_under_60_percent_is_painted_red(page, live_server):
    with live_server.app.app_context():
        j = make_jurisdiction("KPIBR")
        for registered in (True, False, False):  # 1 of 3 registered before the case: 33.3 %
            kf.case_check(j["station"], date(2026, 11, 4), registered)
        create_officer(username="kpi_branch", password=PASSWORD, name="测试", badge_number="K1",
                       role="branch_admin", branch_id=j["branch"].id)
        db.session.commit()
        station_id = j["station"].id
    page.goto(live_server.url + "/console/login")
    page.fill("input[name=username]", "kpi_branch")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(live_server.url + "/console/kpis?period=2026-11-H1&level=station")
    cell = page.locator(f'[data-kpi="pre_case_registration"][data-area="{station_id}"]')
    assert "33.3%" in cell.inner_text()
    colour = cell.evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(255, 199, 206)", colour
    empty = page.locator(f'[data-kpi="control_timeliness"][data-area="{station_id}"]')
    assert empty.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(231, 230, 230)"
