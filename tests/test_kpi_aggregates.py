"""The pre-counted address KPIs equal a from-scratch recount, before and after changes."""
from __future__ import annotations

from datetime import datetime

import time

import pytest

from app.extensions import db
from app.models import utcnow
from app.services.kpis import aggregates
from app.services.kpis import compute as kc
from app.services.kpis import counts as kpi_counts
from app.services.kpis.periods import parse_period
from tests import kpi_factories as kf
from tests.factories import make_jurisdiction

NOW = datetime(2026, 11, 20, 4, 0)  # 12:00 on 20 November, Beijing
PERIODS = aggregates.maintained_periods(NOW)
LEVELS = ("community", "police_area", "station", "branch")


def assert_same_as_recount():
    for period in PERIODS:
        for level in LEVELS:
            stored = kc.compute(period, level, kpis=aggregates.AGGREGATED)
            live = kc.compute(period, level, kpis=aggregates.AGGREGATED, use_aggregates=False)
            assert stored == live, (period.key, level)


@pytest.fixture()
def two(db):
    a, b = make_jurisdiction("G"), make_jurisdiction("G")
    made = {"a": [], "b": []}
    for key, j in (("a", a), ("b", b)):
        building = kf.address(j["community"], level="building",
                              plate_issued_at=kf.beijing(2026, 10, 3))
        for i in range(4):
            room = kf.address(j["community"], level="room", parent_id=building.id,
                              plate_issued_at=kf.beijing(2026, 11, 1 + i * 5) if i % 2 else None)
            made[key].append(room)
            if i < 2:
                kf.house(room, collected_at=kf.beijing(2026, 10, 20 + i * 10))
    db.session.commit()
    return a, b, made


def test_maintained_periods_are_the_last_six_half_months_and_months():
    keys = [p.key for p in PERIODS]
    assert keys[:6] == ["2026-09-H1", "2026-09-H2", "2026-10-H1", "2026-10-H2", "2026-11-H1",
                        "2026-11-H2"]
    assert keys[6:] == ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]


def test_aggregates_equal_a_recount_and_follow_changes_incrementally(two):
    a, b, made = two
    time.sleep(1.1)  # MariaDB keeps whole seconds: let the fixture's rows be strictly older
    first = aggregates.refresh(PERIODS)
    assert set(first.values()) == {"all"}
    db.session.commit()
    assert_same_as_recount()
    # Nothing changed: nothing is recounted.
    assert set(aggregates.refresh(PERIODS).values()) == {0}
    db.session.commit()
    # Changes in community A only: a plate, a retired room, a new house, a new child address.
    made["a"][0].plate_issued_at = kf.beijing(2026, 11, 2)
    made["a"][1].status = "retired"
    kf.house(made["a"][3], collected_at=kf.beijing(2026, 11, 3))
    kf.address(a["community"], level="room", parent_id=made["a"][2].id)
    db.session.commit()
    later = aggregates.refresh(PERIODS)
    assert set(later.values()) == {1}  # only community A recounted
    db.session.commit()
    assert_same_as_recount()
    h1 = parse_period("2026-11-H2")
    fig = kc.compute(h1, "community", kpis=("house_collection",))["house_collection"]
    assert fig[a["community"].id] == kc.compute(
        h1, "community", kpis=("house_collection",), use_aggregates=False)["house_collection"][
        a["community"].id]


def test_other_plate_levels_fall_back_to_a_live_count(two):
    aggregates.refresh(PERIODS, now=NOW)
    period = PERIODS[-1]
    assert aggregates.stored_counts(period, "address_labelling", ("unit",)) is None
    assert aggregates.stored_counts(period, "address_labelling", kpi_counts.DEFAULT_PLATE_LEVELS) is not None


def test_periods_leaving_the_window_are_forgotten_not_left_stale(two):
    aggregates.refresh(PERIODS, now=NOW)
    assert aggregates.forget_unmaintained(datetime(2027, 6, 1)) == len(PERIODS)
    assert aggregates.stored_counts(PERIODS[0], "address_labelling",
                                    kpi_counts.DEFAULT_PLATE_LEVELS) is None


def test_refresh_job_runs_from_the_schedule(app, two):
    from workers.kpi_jobs import refresh_kpi_aggregates

    assert refresh_kpi_aggregates()
    this_month = aggregates.maintained_periods(utcnow())[-1]
    assert aggregates.as_of(this_month) is not None
    assert kc.compute(this_month, "station", kpis=aggregates.AGGREGATED) == kc.compute(
        this_month, "station", kpis=aggregates.AGGREGATED, use_aggregates=False)
