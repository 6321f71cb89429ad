"""Benchmark: the branch colour table for one period, and one station's drill-down first page.

    .venv/bin/python bench/kpis.py [--quick] [--addresses N] [--database-url URL]

City scale by default (1,000,000 addresses, 300,000 houses, 1,000,000 persons and residences,
50,000 spot-check persons, 20,000 case persons, 10,000 control tasks, 30,000 alerts, 20
stations); `--quick` is 4 % of that (40,000 addresses), under 60 s. Runs against its own
database (default BENCH_KPIS_DATABASE_URL or mysql+pymysql://root@127.0.0.1/anju_bench_kpis),
which it creates, migrates and empties before (and, unless --keep, after) the run. Human lines
first, then one JSON object with the figures on the last line.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import ensure_database, make_app  # noqa: E402
from bench.validation import _insert, empty_all_tables  # noqa: E402

DEFAULT_URL = "mysql+pymysql://root@127.0.0.1/anju_bench_kpis?charset=utf8mb4"
PERIOD = "2026-11-H1"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 % of the size, under 60 s")
    parser.add_argument("--addresses", type=int, default=None)
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_KPIS_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the data in place afterwards")
    args = parser.parse_args()
    if args.addresses is None:
        args.addresses = 40_000 if args.quick else 1_000_000
    return args


def build(args, rng: random.Random) -> dict:
    """Jurisdiction, addresses (buildings → rooms), houses, persons, residences and KPI rows."""
    from app.models import (
        Address, Alert, Branch, CaseCheck, Community, ControlTask, House, Officer, Person,
        PoliceArea, Residence, SpotCheck, SpotCheckPerson, Station, Watch,
    )

    scale = args.addresses / 1_000_000
    n_houses, n_persons = int(300_000 * scale), int(1_000_000 * scale)
    n_spot_persons, n_cases = int(50_000 * scale), int(20_000 * scale)
    n_tasks, n_alerts = int(10_000 * scale), int(30_000 * scale)
    now = datetime(2026, 12, 1)
    created = datetime(2026, 1, 1)
    stamp = {"created_at": created, "updated_at": created}
    stations, areas, communities = 20, 100, 200
    _insert(Branch.__table__, [{"id": 1, "code": "BK", "name": "压测分局", **stamp}])
    _insert(Station.__table__, [{"id": s + 1, "branch_id": 1, "code": f"BK-S{s:02d}",
                                 "name": f"压测派出所{s + 1}", **stamp} for s in range(stations)])
    _insert(PoliceArea.__table__, [{"id": a + 1, "station_id": a % stations + 1,
                                    "code": f"BK-A{a:03d}", "name": f"压测第{a + 1}警务区",
                                    **stamp} for a in range(areas)])
    comm = [{"id": c + 1, "police_area_id": c % areas + 1, "station_id": (c % areas) % stations + 1,
             "code": f"BK-C{c:03d}", "name": f"压测社区{c + 1}", **stamp}
            for c in range(communities)]
    _insert(Community.__table__, comm)
    _insert(Officer.__table__, [{"id": 1, "username": "bench", "password_hash": "x",
                                 "name": "压测", "badge_number": "BK1", "role": "branch_admin",
                                 "branch_id": 1, "is_active": True, "failed_logins": 0,
                                 "session_version": 0, **stamp}])
    t0 = time.perf_counter()
    rows, leaves, next_id = [], [], 1
    per_community = args.addresses // communities
    for c in comm:
        made = 0
        while made < per_community:
            building_id = next_id
            plate = created + timedelta(days=rng.randint(0, 330)) if rng.random() < 0.9 else None
            rows.append({"id": building_id, "code": f"BK{building_id:09d}", "level": "building",
                         "community_id": c["id"], "police_area_id": c["police_area_id"],
                         "station_id": c["station_id"], "full_text": f"压测路{building_id}号",
                         "is_residential": True, "qr_token": secrets.token_urlsafe(16),
                         "status": "active", "plate_issued_at": plate, **stamp})
            next_id += 1
            made += 1
            for _ in range(min(49, per_community - made)):
                plate = created + timedelta(days=rng.randint(0, 330)) if rng.random() < 0.85 else None
                rows.append({"id": next_id, "code": f"BK{next_id:09d}", "level": "room",
                             "parent_id": building_id, "community_id": c["id"],
                             "police_area_id": c["police_area_id"], "station_id": c["station_id"],
                             "full_text": f"压测路{building_id}号{next_id}室",
                             "is_residential": True, "qr_token": secrets.token_urlsafe(16),
                             "status": "retired" if rng.random() < 0.01 else "active",
                             "plate_issued_at": plate, **stamp})
                leaves.append((next_id, c))
                next_id += 1
                made += 1
            if len(rows) >= 20_000:
                _insert(Address.__table__, rows)
                rows = []
    _insert(Address.__table__, rows)
    print(f"inserted {next_id - 1:,} addresses in {time.perf_counter() - t0:.1f} s", flush=True)

    t0 = time.perf_counter()
    house_at = rng.sample(leaves, n_houses)
    houses = [{"id": i + 1, "address_id": a, "station_id": c["station_id"],
               "police_area_id": c["police_area_id"], "is_rental": True, "status": "active",
               "is_vacant": False, "collected_at": created + timedelta(days=rng.randint(0, 330)),
               "collected_by_type": "import", "collected_channel": "import", **stamp}
              for i, (a, c) in enumerate(house_at)]
    _insert(House.__table__, houses)
    enc = "bench:not-a-real-ciphertext"
    persons = ({"id": i + 1, "document_type": "resident_id", "document_number_enc": enc,
                "document_blind_index": f"{i + 1:064x}", "document_masked": "110105********0000",
                "name": "压测人员", "nationality": "CHN", "is_floating": True,
                "collected_at": created, "collected_by_type": "import",
                "collected_channel": "import", **stamp} for i in range(n_persons))
    _chunked(Person.__table__, persons)
    residences = ({"id": i + 1, "person_id": i + 1, "house_id": i % n_houses + 1,
                   "start_date": date(2026, 1, 1) + timedelta(days=rng.randint(0, 300)),
                   "declared_by": "landlord", "channel": "import", "status": "active",
                   "active_slot": 1, "collected_at": created, "collected_by_type": "import",
                   "collected_channel": "import", **stamp} for i in range(n_persons))
    _chunked(Residence.__table__, residences)
    print(f"inserted {n_houses:,} houses, {n_persons:,} persons and residences in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)

    t0 = time.perf_counter()
    start = datetime(2026, 6, 1) - timedelta(hours=8)
    span = int((now - start).total_seconds())
    n_checks = n_spot_persons // 2
    checks = []
    for i in range(n_checks):
        h = houses[rng.randrange(n_houses)]
        checks.append({"id": i + 1, "officer_id": 1, "house_id": h["id"],
                       "station_id": h["station_id"],
                       "checked_at": start + timedelta(seconds=rng.randrange(span)), **stamp})
    _insert(SpotCheck.__table__, checks)
    _insert(SpotCheckPerson.__table__, [{"spot_check_id": i % n_checks + 1,
                                         "person_id": rng.randrange(n_persons) + 1,
                                         "was_registered": rng.random() < 0.82}
                                        for i in range(n_spot_persons)])
    _insert(CaseCheck.__table__, [{
        "document_type": "resident_id", "document_number_enc": enc,
        "document_blind_index": f"{i:064x}", "document_masked": "110105********0000",
        "name": "涉案人员", "case_number": f"AJ{i:07d}",
        "case_date": date(2026, 6, 1) + timedelta(days=rng.randrange(183)),
        "station_id": rng.randrange(stations) + 1, "person_id": rng.randrange(n_persons) + 1,
        "is_floating": rng.random() < 0.8, "registered_before_case": rng.random() < 0.7,
        **stamp} for i in range(n_cases)])
    _insert(Watch.__table__, [{"id": 1, "document_type": "resident_id",
                               "document_blind_index": "0" * 64, "category": "压测",
                               "source": "压测", "listed_at": created, **stamp}])
    tasks = []
    for i in range(n_tasks):
        deadline = start + timedelta(seconds=rng.randrange(span))
        done = rng.random() < 0.85
        a = rng.randrange(areas) + 1
        tasks.append({"watch_id": 1, "person_id": rng.randrange(n_persons) + 1,
                      "station_id": (a - 1) % stations + 1, "police_area_id": a,
                      "checklist": "[]", "deadline": deadline,
                      "status": "done" if done else "open",
                      "completed_at": deadline + timedelta(hours=rng.randint(-72, 24))
                      if done else None, **stamp})
    _insert(ControlTask.__table__, tasks)
    alerts = []
    for i in range(n_alerts):
        a = rng.randrange(areas) + 1
        closed = rng.random() < 0.9
        alerts.append({"kind": "watch_hit", "station_id": (a - 1) % stations + 1,
                       "police_area_id": a, "object_type": "person", "object_id": i + 1,
                       "summary": "压测预警", "raised_at": start + timedelta(seconds=rng.randrange(span)),
                       "status": "closed" if closed else "open", **stamp})
    _insert(Alert.__table__, alerts)
    print(f"inserted {n_spot_persons:,} spot-check persons, {n_cases:,} case persons, "
          f"{n_tasks:,} tasks, {n_alerts:,} alerts in {time.perf_counter() - t0:.1f} s", flush=True)
    return {"addresses": next_id - 1, "houses": n_houses, "persons": n_persons,
            "spot_check_persons": n_spot_persons, "case_persons": n_cases,
            "control_tasks": n_tasks, "alerts": n_alerts, "stations": stations}


def _chunked(table, rows, chunk: int = 20_000) -> None:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk:
            _insert(table, batch)
            batch = []
    _insert(table, batch)


def timed(fn, repeat: int) -> dict:
    """First (cold) and median of the following warm runs, in milliseconds."""
    from app.extensions import db

    times = []
    for _ in range(repeat + 1):
        db.session.expire_all()
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
        db.session.rollback()
    return {"first_ms": round(times[0], 1), "median_ms": round(statistics.median(times[1:]), 1)}


def main() -> None:
    args = parse_args()
    ensure_database(args.database_url, require_mysql=True)
    app = make_app(args.database_url)
    rng = random.Random(args.seed)
    with app.app_context():
        from flask_migrate import upgrade

        from app.extensions import db
        from app.models import Officer
        from app.services.kpis import aggregates
        from app.services.kpis import compute as kc
        from app.services.kpis import counts as kpi_counts
        from app.services.kpis.drilldown import drill_down
        from app.services.kpis.periods import parse_period

        upgrade()
        empty_all_tables()
        t0 = time.perf_counter()
        sizes = build(args, rng)
        build_s = time.perf_counter() - t0
        db.session.execute(db.text("ANALYZE TABLE address, house, spot_check, "
                                   "spot_check_person, case_check, control_task, alert"))
        db.session.commit()
        officer = db.session.get(Officer, 1)
        period = parse_period(PERIOD)
        as_of = datetime(2026, 12, 1)
        periods = aggregates.maintained_periods(datetime(2026, 11, 20))
        t0 = time.perf_counter()
        aggregates.refresh(periods, full=True)
        db.session.commit()
        full_refresh_s = time.perf_counter() - t0
        print(f"full refresh of the address aggregates ({len(periods)} periods): "
              f"{full_refresh_s:.1f} s", flush=True)
        time.sleep(1.1)
        db.session.execute(db.text("UPDATE address SET plate_issued_at = :t, updated_at = :n "
                                   "WHERE community_id = 1 AND plate_issued_at IS NULL LIMIT 50"),
                           {"t": datetime(2026, 11, 3), "n": datetime.utcnow()})
        db.session.commit()
        t0 = time.perf_counter()
        aggregates.refresh(periods)
        db.session.commit()
        incremental_s = time.perf_counter() - t0
        print(f"incremental refresh after 50 plates in one community: {incremental_s:.1f} s",
              flush=True)
        live = timed(lambda: kc.compute(period, "station", as_of=as_of, use_aggregates=False), 1)
        print(f"the same six KPIs counted live (no aggregates): median {live['median_ms']} ms",
              flush=True)
        table = timed(lambda: kc.colour_table(period, "station", officer, as_of=as_of),
                      args.repeat)
        print(f"branch colour table (20 stations, 6 KPIs, with previous period and 约谈): "
              f"first {table['first_ms']} ms, median {table['median_ms']} ms", flush=True)
        per_kpi = {}
        for kpi in kpi_counts.KPIS:
            per_kpi[kpi] = timed(lambda k=kpi: kc.compute(period, "station", as_of=as_of,
                                                           kpis=(k,)), 2)["median_ms"]
        print("(address KPIs from the aggregates)")
        print("per KPI, one period, station level (median ms): " + json.dumps(per_kpi))
        drill = {}
        for kpi in kpi_counts.KPIS:
            drill[kpi] = timed(lambda k=kpi: drill_down(k, period, "station", 1, officer,
                                                        as_of=as_of), 2)
        print("drill-down first page, station 1 (ms): " + json.dumps(drill), flush=True)
        result = {
            "bench": "kpis", "quick": args.quick, **sizes, "build_s": round(build_s, 1),
            "aggregate_full_refresh_s": round(full_refresh_s, 1),
            "aggregate_incremental_refresh_s": round(incremental_s, 1),
            "live_compute_median_ms": live["median_ms"],
            "colour_table_first_ms": table["first_ms"],
            "colour_table_median_ms": table["median_ms"],
            "per_kpi_median_ms": per_kpi,
            "drill_down_first_page_ms": {k: v["median_ms"] for k, v in drill.items()},
            "drill_down_first_page_max_ms": max(v["median_ms"] for v in drill.values()),
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "date": date.today().isoformat(),
        }
        if not args.keep:
            empty_all_tables()
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
