"""Pre-counted address KPIs (地址标注率, 房屋采集率): the only two that scan every address.

At city scale a live GROUP BY over a million addresses takes seconds, so a periodic job keeps,
per maintained period and community, the same numerator and denominator the live count gives.
It is incremental: after the first full count only the communities where an address or house
changed (updated_at) since the last run are recounted. `compute()` uses a period's aggregates
when they exist (with the same plate levels) and counts live otherwise. The test
tests/test_kpi_aggregates.py proves aggregates equal a from-scratch recount after changes.
"""
from __future__ import annotations

from sqlalchemy import delete, select

from app.extensions import db
from app.models import Address, House, KpiAggregate, KpiAggregateState, utcnow
from app.services.kpis import counts as kpi_counts
from app.services.kpis.periods import Period, current_half_month

AGGREGATED = ("address_labelling", "house_collection")


def maintained_periods(now) -> list[Period]:
    """The periods the dashboard shows: the last 6 half-months and the last 6 months."""
    half = current_half_month(now)
    month = Period(half.year, half.month)
    return half.trail(6) + month.trail(6)


def _levels_key(plate_levels) -> str:
    return ",".join(sorted(plate_levels))


def stored_counts(period: Period, kpi: str, plate_levels) -> dict | None:
    """The stored finest-grain counts of one KPI for the period, or None when not maintained."""
    state = db.session.get(KpiAggregateState, period.key)
    if state is None or state.plate_levels != _levels_key(plate_levels):
        return None
    rows = db.session.execute(
        select(KpiAggregate.station_id, KpiAggregate.police_area_id, KpiAggregate.community_id,
               KpiAggregate.numerator, KpiAggregate.denominator)
        .where(KpiAggregate.period == period.key, KpiAggregate.kpi == kpi))
    return kpi_counts._rows_to_counts(rows)


def changed_communities(since) -> set[int]:
    """Communities with an address or a house updated at or after `since`."""
    addresses = select(Address.community_id).where(Address.updated_at >= since).distinct()
    houses = (select(Address.community_id).join(House, House.address_id == Address.id)
              .where(House.updated_at >= since).distinct())
    return set(db.session.execute(addresses).scalars()) | set(
        db.session.execute(houses).scalars())


def refresh(periods, *, plate_levels=kpi_counts.DEFAULT_PLATE_LEVELS, now=None,
            full: bool = False) -> dict:
    """Bring the aggregates of the given periods up to date; returns {period: communities
    recounted or "all"}. Rows changed while this runs are caught by the next run."""
    started = now or utcnow()
    levels = _levels_key(plate_levels)
    done = {}
    dirty_cache: dict = {}
    for period in periods:
        state = db.session.get(KpiAggregateState, period.key)
        communities = None
        if state is not None and state.plate_levels == levels and not full:
            since = state.computed_at
            if since not in dirty_cache:
                dirty_cache[since] = changed_communities(since)
            communities = dirty_cache[since]
            if not communities:
                state.computed_at = started
                done[period.key] = 0
                continue
        for kpi in AGGREGATED:
            counts = kpi_counts.COUNTERS[kpi](period, plate_levels=plate_levels, communities=communities)
            stmt = delete(KpiAggregate).where(KpiAggregate.period == period.key,
                                              KpiAggregate.kpi == kpi)
            if communities is not None:
                stmt = stmt.where(KpiAggregate.community_id.in_(sorted(communities)))
            db.session.execute(stmt)
            rows = [{"period": period.key, "kpi": kpi, "station_id": s, "police_area_id": a,
                     "community_id": c, "numerator": n, "denominator": d}
                    for (s, a, c), (n, d) in counts.items()]
            for i in range(0, len(rows), 1000):
                db.session.execute(KpiAggregate.__table__.insert(), rows[i:i + 1000])
        if state is None:
            state = KpiAggregateState(period=period.key, plate_levels=levels, computed_at=started)
            db.session.add(state)
        state.plate_levels, state.computed_at = levels, started
        done[period.key] = "all" if communities is None else len(communities)
    db.session.flush()
    return done


def forget_unmaintained(now) -> int:
    """Drop the aggregates of periods no longer maintained (they would go stale); returns how
    many periods were dropped. Those periods are counted live again."""
    keep = {p.key for p in maintained_periods(now)}
    old = [s.period for s in db.session.execute(select(KpiAggregateState)).scalars()
           if s.period not in keep]
    if old:
        db.session.execute(delete(KpiAggregate).where(KpiAggregate.period.in_(old)))
        db.session.execute(delete(KpiAggregateState).where(KpiAggregateState.period.in_(old)))
        db.session.flush()
    return len(old)


def as_of(period: Period) -> object | None:
    """When the period's aggregates were last brought up to date (None: counted live)."""
    state = db.session.get(KpiAggregateState, period.key)
    return state.computed_at if state else None


