"""Every KPI counted once, from the models: numerator, denominator, exact rate, colour.

Each KPI is one GROUP BY on the finest area a row can be attributed to (station, police area,
community — some rows lack the finer ones), rolled up in Python to the level asked for; so a
station's figure is always the sum of what it holds, and the same rows feed every page, export
and report. Definitions and edge cases: docs/KPIS.md.
"""
from datetime import timedelta
from fractions import Fraction

from sqlalchemy import select

from app.extensions import db
from app.models import Branch, Community, Officer, PoliceArea, Station
from app.services.accounts import scoping
from app.services.errors import RuleError
from app.services.kpis import aggregates
from app.services.kpis.counts import (
    CALL_IN_PRE_CASE_BELOW, CALL_IN_SPOT_CHECK_BELOW, COUNTERS, DEFAULT_PLATE_LEVELS, Figure, KPIS,
    LEVELS, TARGETS, _station_branches, roll_up,
)
from app.services.kpis.periods import Period, parse_period
from app.services.kpis.thresholds import Thresholds, current_thresholds


def percent_text(rate: Fraction | None) -> str:
    """0.875 → "87.5%"; cut (never rounded up) to one decimal, so 79.96 % reads 79.9 % and the
    shown figure never crosses a threshold the exact rate did not; None → "无数据"."""
    if rate is None:
        return "无数据"
    tenths = (rate * 1000).numerator // (rate * 1000).denominator
    return f"{tenths // 10}.{tenths % 10}%"


def rate_text(rate: Fraction | None) -> str | None:
    """The rate as a decimal string, cut to 4 places (trailing zeros dropped): 7/8 → "0.875",
    2/3 → "0.6666", 1 → "1"; None when there is no data. The exact value is numerator ÷ denominator."""
    if rate is None:
        return None
    units = (rate * 10_000).numerator // (rate * 10_000).denominator
    whole, frac = divmod(units, 10_000)
    frac_text = f"{frac:04d}".rstrip("0")
    return f"{whole}.{frac_text}" if frac_text else str(whole)


def change_text(change: Fraction | None) -> str | None:
    """A change in percentage points, cut toward zero to one decimal: "+2.5" / "-10.0"."""
    if change is None:
        return None
    tenths = abs(change * 10)
    tenths = tenths.numerator // tenths.denominator
    sign = "-" if change < 0 else "+"
    return f"{sign}{tenths // 10}.{tenths % 10}"


def compute(period: Period, level: str, *, as_of=None, plate_levels=DEFAULT_PLATE_LEVELS,
            kpis=KPIS, use_aggregates: bool = True) -> dict:
    """{kpi: {area id: Figure}} for every area at `level` that has rows (no scoping); the
    address-based KPIs come from the pre-counted aggregates when the period has them."""
    if level not in LEVELS:
        raise RuleError("level", "统计层级应为社区、警务区、派出所或分局")
    station_branch = _station_branches()
    fine = level in ("community", "police_area")
    out = {}
    for kpi in kpis:
        counts = None
        if use_aggregates and kpi in aggregates.AGGREGATED:
            counts = aggregates.stored_counts(period, kpi, plate_levels)
        if counts is None:
            counts = COUNTERS[kpi](period, as_of=as_of, plate_levels=plate_levels, fine=fine)
        out[kpi] = roll_up(counts, level, station_branch)
    return out


# ---------------------------------------------------------------------------------------------
# Areas an officer may see at each level


def scoped_areas(level: str, officer: Officer) -> list[tuple[int, str, str]]:
    """(id, code, name) of the areas at `level` in the officer's scope, in code order.

    Plain officers see their police area and its communities; station admins their station and
    below; branch roles every level of their branch."""
    if level not in LEVELS:
        raise RuleError("level", "统计层级应为社区、警务区、派出所或分局")
    role = officer.role
    if level == "branch":
        if role not in scoping.BRANCH_ROLES:
            raise RuleError("level", "只有分局管理员可以查看分局汇总")
        stmt = select(Branch.id, Branch.code, Branch.name).where(Branch.id == officer.branch_id)
    elif level == "station":
        if role not in scoping.ADMIN_ROLES:
            raise RuleError("level", "民警只能查看本警务区和社区的统计")
        stmt = scoping.scope_stations(select(Station.id, Station.code, Station.name), officer)
    elif level == "police_area":
        stmt = scoping.scope_police_areas(
            select(PoliceArea.id, PoliceArea.code, PoliceArea.name), officer)
    else:
        stmt = scoping.scope_communities(
            select(Community.id, Community.code, Community.name), officer)
    return [tuple(r) for r in db.session.execute(stmt.order_by("code")).all()]


# ---------------------------------------------------------------------------------------------
# The colour table, as one JSON-ready structure every renderer uses


def figure_json(figure: Figure | None, kpi: str, thresholds: Thresholds) -> dict:
    figure = figure or Figure(0, 0)
    rate = figure.rate
    return {"numerator": figure.numerator, "denominator": figure.denominator,
            "rate": rate_text(rate), "percent": percent_text(rate),
            "target": f"{TARGETS[kpi]}%", "colour": thresholds.colour(kpi, rate)}


def _exact(entry: dict) -> Fraction | None:
    return Fraction(entry["numerator"], entry["denominator"]) if entry["denominator"] else None


def call_in_list(period: Period, officer: Officer, *, as_of=None, station_figures=None) -> list:
    """Stations to call in (约谈): 抽查登记率 under 80 % in the period, or the month's
    案前管控登记率 (month to date for a first half-month) under 60 %; no data never calls in."""
    if officer.role not in scoping.ADMIN_ROLES:
        return []
    stations = scoped_areas("station", officer)
    spot = (station_figures or compute(period, "station", as_of=as_of,
                                       kpis=("spot_check_registration",)))
    spot = spot["spot_check_registration"]
    if station_figures is not None and period.half == "H1":
        monthly = station_figures["pre_case_registration"]  # the month so far is this H1
    else:
        monthly = compute(period.month_to_date(), "station", as_of=as_of,
                          kpis=("pre_case_registration",))["pre_case_registration"]
    out = []
    for station_id, code, name in stations:
        s = spot.get(station_id, Figure(0, 0))
        p = monthly.get(station_id, Figure(0, 0))
        reasons = []
        if s.rate is not None and s.rate < CALL_IN_SPOT_CHECK_BELOW:
            reasons.append(f"抽查登记率 {percent_text(s.rate)}（{s.numerator}/{s.denominator}）"
                           "低于 80%")
        if p.rate is not None and p.rate < CALL_IN_PRE_CASE_BELOW:
            reasons.append(f"本月案前管控登记率 {percent_text(p.rate)}（{p.numerator}/"
                           f"{p.denominator}）低于 60%")
        if reasons:
            out.append({
                "area_id": station_id, "area_code": code, "name": name, "reasons": reasons,
                "spot_check_registration": {"numerator": s.numerator,
                                            "denominator": s.denominator,
                                            "rate": rate_text(s.rate),
                                            "percent": percent_text(s.rate)},
                "pre_case_registration_month": {"period": period.month_to_date().key,
                                                "numerator": p.numerator,
                                                "denominator": p.denominator,
                                                "rate": rate_text(p.rate),
                                                "percent": percent_text(p.rate)},
            })
    return out


def colour_table(period: Period, level: str, officer: Officer, *, as_of=None,
                 thresholds: Thresholds | None = None, plate_levels=DEFAULT_PLATE_LEVELS,
                 with_previous: bool = True) -> dict:
    """The 分色预警表 for the officer's areas at `level`: every KPI per area with its colour,
    the change from the previous period, the focus areas (red last period) and the 约谈 list."""
    thresholds = thresholds or current_thresholds()
    areas = scoped_areas(level, officer)
    figures = compute(period, level, as_of=as_of, plate_levels=plate_levels)
    previous = (compute(period.previous(), level, as_of=as_of, plate_levels=plate_levels)
                if with_previous else None)
    rows, focus = [], []
    for area_id, code, name in areas:
        kpis = {}
        for kpi in KPIS:
            entry = figure_json(figures[kpi].get(area_id), kpi, thresholds)
            if previous is not None:
                before = figure_json(previous[kpi].get(area_id), kpi, thresholds)
                now_rate, then_rate = _exact(entry), _exact(before)
                change = (now_rate - then_rate) * 100 if None not in (now_rate, then_rate) else None
                entry["previous"] = {"numerator": before["numerator"],
                                     "denominator": before["denominator"],
                                     "rate": before["rate"], "percent": before["percent"],
                                     "colour": before["colour"]}
                entry["change"] = change_text(change)
                if before["colour"] == "red":
                    focus.append({"area_id": area_id, "area_code": code, "name": name,
                                  "kpi": kpi, "previous_percent": before["percent"],
                                  "percent": entry["percent"], "change": entry["change"],
                                  "colour": entry["colour"]})
            kpis[kpi] = entry
        rows.append({"area_id": area_id, "area_code": code, "name": name, "kpis": kpis,
                     "focus": any(f["area_id"] == area_id for f in focus)})
    station_figures = figures if level == "station" else None

    counted_at = aggregates.as_of(period)
    return {
        # Address KPIs come from aggregates brought up to date at this (local) time; None = live.
        "address_counts_as_of": ((counted_at + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
                                 if counted_at else None),
        "period": period.key, "period_label": period.label, "level": level,
        "previous_period": period.previous().key if with_previous else None,
        "thresholds": thresholds.as_json(), "areas": rows, "focus_areas": focus,
        "call_in": call_in_list(period, officer, as_of=as_of, station_figures=station_figures),
    }


def kpi_table(period, level: str, scope: Officer, *, as_of=None,
              plate_levels=DEFAULT_PLATE_LEVELS) -> dict:
    """The KPI JSON the console (/console/kpis.json) and the officer API serve: period, level,
    per-area numerator/denominator/rate (decimal string, null = no data)/colour, and 约谈."""
    if isinstance(period, str):
        period = parse_period(period)
    table = colour_table(period, level, scope, as_of=as_of, with_previous=False,
                         plate_levels=plate_levels)
    keep = ("numerator", "denominator", "rate", "colour")
    return {
        "period": table["period"], "level": table["level"],
        "areas": [{"area_id": a["area_id"], "area_code": a["area_code"], "name": a["name"],
                   "kpis": {k: {f: v[f] for f in keep} for k, v in a["kpis"].items()}}
                  for a in table["areas"]],
        "call_in": table["call_in"],
    }
