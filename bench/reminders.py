"""Benchmark: a full reminder sweep over the district — time and peak memory at several sizes.

    .venv/bin/python bench/reminders.py [--quick] [--sizes 100000,200000,300000]
                                        [--database-url URL]

Runs against its own database (default BENCH_REMINDERS_DATABASE_URL or
mysql+pymysql://root@127.0.0.1/anju_bench_reminders?charset=utf8mb4), which it creates if
missing, migrates, and empties before and after the run (it owns every row in it), and against a
private redis-server on a free port, stopped at the end. Human lines first, then one JSON object
with the figures on the last line.

The district grows in steps (bulk Core inserts); at each size a fresh child process runs the
sweep job's two parts on an empty reminder table, as `sweep_reminders` does: the rule sweep
(every rule over every house, residence and declaration, committed per chunk) and the dispatch
of due sends to RQ (capped by the 100,000-a-day template quota). Each child reports wall time and
its peak RSS (getrusage) before and after the sweep; a second child repeats the same sweep under
tracemalloc for the peak of Python allocations during it, so memory flat in the number of houses
shows as the same peak at every size. At the largest size the sweep is run a second time
(nothing new to add: what every hourly sweep after the first costs).

Houses by i % 10: 0–3 rented out with nobody declared (reminded), 4 vacant and confirmed,
5–6 with a tenant but unconfirmed for 40 days (reminded), 7–9 with a tenant and confirmed.
Tenants started 0–399 days ago (some reach 居住证 eligibility or the 签注 month); one tenant in
five has a WeChat account; one house in a hundred has a rejected declaration awaiting correction.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import ensure_database, make_app, start_redis  # noqa: E402

DEFAULT_URL = "mysql+pymysql://root@127.0.0.1/anju_bench_reminders?charset=utf8mb4"
NOW = datetime(2026, 11, 27, 4, 0)  # 12:00 in Shanghai: outside the quiet hours
AREAS = 10
OWNERS = 1000
INSERT_CHUNK = 5000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5k/10k/20k houses, under 60 s")
    parser.add_argument("--sizes", default=None, help="comma-separated house counts")
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_REMINDERS_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sizes is None:
        args.sizes = "5000,10000,20000" if args.quick else "100000,200000,300000"
    args.sizes = [int(s) for s in args.sizes.split(",")]
    return args


def empty_tables(names=None) -> None:
    from sqlalchemy import text

    from app.extensions import db

    db.session.execute(text("SET FOREIGN_KEY_CHECKS=0"))
    for table in db.metadata.sorted_tables:
        if names is None or table.name in names:
            db.session.execute(text(f"TRUNCATE TABLE `{table.name}`"))
    db.session.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    db.session.commit()


def seed_jurisdiction() -> None:
    from sqlalchemy import insert

    from app.extensions import db
    from app.models import Branch, Community, PoliceArea, Station, WeChatUser

    t = NOW - timedelta(days=400)
    stamps = {"created_at": t, "updated_at": t}
    db.session.execute(insert(Branch), [{"id": 1, "code": "BENCH-RM", "name": "基准分局",
                                         "region_code": "350303", **stamps}])
    db.session.execute(insert(Station), [{"id": 1, "branch_id": 1, "code": "BENCH-RM-S",
                                          "name": "基准派出所", **stamps}])
    db.session.execute(insert(PoliceArea), [
        {"id": a, "station_id": 1, "code": f"BENCH-RM-A{a}", "name": f"第{a}警务区", **stamps}
        for a in range(1, AREAS + 1)])
    db.session.execute(insert(Community), [
        {"id": a, "police_area_id": a, "station_id": 1, "code": f"BENCH-RM-C{a}",
         "name": f"基准社区{a}", **stamps} for a in range(1, AREAS + 1)])
    db.session.execute(insert(WeChatUser), [
        {"id": u, "openid": f"bench-owner-{u}", "source": "sandbox", "subscribed": True, **stamps}
        for u in range(1, OWNERS + 1)])
    db.session.commit()


def grow(first: int, last: int) -> None:
    """Add houses first..last (ids explicit) with their addresses, tenants and declarations."""
    from sqlalchemy import insert

    from app.extensions import db
    from app.models import Address, Declaration, House, Person, Residence, WeChatUser

    created = NOW - timedelta(days=60)
    for start in range(first, last + 1, INSERT_CHUNK):
        ids = range(start, min(start + INSERT_CHUNK, last + 1))
        stamps = {"created_at": created, "updated_at": created}
        addresses, houses, persons, residences, tenants, declarations = [], [], [], [], [], []
        for i in ids:
            area = i % AREAS + 1
            kind = i % 10
            addresses.append({
                "id": i, "code": f"BRM{i:09d}", "level": "room", "community_id": area,
                "police_area_id": area, "station_id": 1, "road": "基准路", "number": f"{i}号",
                "room": f"{i % 100}室", "full_text": f"基准路{i}号{i % 100}室",
                "qr_token": f"brm{i:012d}", "status": "active", "is_residential": True,
                **stamps})
            confirmed = {4: 10, 5: 40, 6: 40}.get(kind, 5 if kind >= 7 else None)
            houses.append({
                "id": i, "address_id": i, "station_id": 1, "police_area_id": area,
                "owner_wechat_user_id": i % OWNERS + 1, "is_rental": True,
                "rental_type": "whole", "rooms": 2, "is_vacant": kind == 4, "status": "active",
                "last_confirmed_at": NOW - timedelta(days=confirmed) if confirmed else None,
                "collected_at": created, "collected_by_type": "import",
                "collected_channel": "import", **stamps})
            if kind >= 5:
                persons.append({
                    "id": i, "document_type": "resident_id", "document_number_enc": "bench:x",
                    "document_blind_index": f"bench{i:020d}", "document_masked": "3503**********",
                    "name": "基准租客", "nationality": "CHN", "is_floating": True,
                    "collected_at": created, "collected_by_type": "import",
                    "collected_channel": "import", **stamps})
                residences.append({
                    "id": i, "person_id": i, "house_id": i, "status": "active", "active_slot": 1,
                    "start_date": (NOW - timedelta(days=i % 400)).date(),
                    "declared_by": "landlord", "channel": "import", "collected_at": created,
                    "collected_by_type": "import", "collected_channel": "import", **stamps})
                if i % 10 == 9:
                    tenants.append({"id": OWNERS + i, "openid": f"bench-tenant-{i}",
                                    "source": "sandbox", "subscribed": True, "person_id": i,
                                    **stamps})
            if i % 100 == 1:
                declarations.append({
                    "id": i, "kind": "move_in", "status": "rejected", "submitter_role": "landlord",
                    "submitter_wechat_user_id": i % OWNERS + 1, "channel": "wechat_h5",
                    "receipt_code": f"BR{i:010d}", "payload": {}, "address_id": i, "house_id": i,
                    "station_id": 1, "police_area_id": area, "is_late": False,
                    "decided_at": NOW - timedelta(days=5), **stamps})
        for model, rows in ((Address, addresses), (House, houses), (Person, persons),
                            (Residence, residences), (WeChatUser, tenants),
                            (Declaration, declarations)):
            if rows:
                db.session.execute(insert(model), rows)
        db.session.commit()


def child(args) -> None:
    """One sweep in a fresh process: wall time and peak RSS before/after, as one JSON line."""
    app = make_app(args.database_url, args.redis_url)
    with app.app_context():
        from app.extensions import db
        from app.services.reminders import rules, sweep
        from workers.reminder_jobs import dispatch_due

        s = rules.settings()
        db.session.execute(db.select(1)).all()  # connect before the baseline
        db.session.rollback()
        if args.trace:
            import tracemalloc

            tracemalloc.start()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        stats = sweep.SweepStats()
        for stats in sweep.sweep(NOW, s):
            db.session.commit()
        db.session.commit()
        t1 = time.perf_counter()
        traced = {}
        if args.trace:
            traced["traced_sweep_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
            tracemalloc.reset_peak()
        queued = dispatch_due(NOW, s, now_iso=NOW.isoformat())
        t2 = time.perf_counter()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if args.trace:
            traced["traced_dispatch_peak_mb"] = round(
                tracemalloc.get_traced_memory()[1] / 2**20, 1)
        print(json.dumps({**traced, "sweep_s": round(t1 - t0, 2), "dispatch_s": round(t2 - t1, 2),
                          "total_s": round(t2 - t0, 2), "rss_before_mb": round(rss_before / 1024),
                          "rss_peak_mb": round(rss_after / 1024),
                          "rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
                          "queued": queued, **stats.as_dict()}))


def run_child(args, redis_url: str, trace: bool = False) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", "--database-url",
                          args.database_url, "--redis-url", redis_url] + (["--trace"] * trace),
                         capture_output=True, text=True, check=False,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if out.returncode != 0:
        raise SystemExit(f"sweep child failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    args = parse_args()
    if args.child:
        return child(args)
    ensure_database(args.database_url, require_mysql=True)
    redis_url = start_redis()
    app = make_app(args.database_url, redis_url)
    results = []
    started = time.perf_counter()
    with app.app_context():
        from flask_migrate import upgrade
        from sqlalchemy import func, select, text

        from app.extensions import db
        from app.models import Reminder
        from app.redis_conn import get_redis

        upgrade()
        empty_tables()
        seed_jurisdiction()
        version = db.session.execute(text("SELECT VERSION()")).scalar()
        have = 0
        for size in sorted(args.sizes):
            t0 = time.perf_counter()
            grow(have + 1, size)
            have = size
            build = time.perf_counter() - t0
            empty_tables({"reminder", "alert"})
            get_redis().flushdb()
            db.session.remove()
            figures = run_child(args, redis_url)
            # The same sweep again from scratch under tracemalloc (which slows it): the peak of
            # Python allocations during the sweep, the figure that must not grow with the houses.
            empty_tables({"reminder", "alert"})
            get_redis().flushdb()
            db.session.remove()
            traced = run_child(args, redis_url, trace=True)
            figures.update(houses=size, build_s=round(build, 1), run="first sweep",
                           traced_sweep_peak_mb=traced["traced_sweep_peak_mb"],
                           traced_dispatch_peak_mb=traced["traced_dispatch_peak_mb"])
            results.append(figures)
            print(f"{size:>8,} houses: sweep {figures['sweep_s']:.2f} s + dispatch "
                  f"{figures['dispatch_s']:.2f} s; {figures['created']:,} reminders, "
                  f"{figures['queued']:,} queued; RSS {figures['rss_before_mb']} → "
                  f"{figures['rss_peak_mb']} MB; traced peak: sweep "
                  f"{figures['traced_sweep_peak_mb']} MB, dispatch "
                  f"{figures['traced_dispatch_peak_mb']} MB"
                  f"  [data built in {build:.1f} s]", flush=True)
        again = run_child(args, redis_url)
        again.update(houses=have, run="second sweep (nothing new)")
        results.append(again)
        print(f"{have:>8,} houses again: sweep {again['sweep_s']:.2f} s + dispatch "
              f"{again['dispatch_s']:.2f} s; {again['created']:,} new reminders; RSS "
              f"+{again['rss_growth_mb']} MB", flush=True)
        total_reminders = db.session.execute(
            select(func.count()).select_from(Reminder)).scalar()
        db.session.remove()
        empty_tables()
    summary = {
        "bench": "reminders", "date": "2026-11-27", "database": f"MariaDB {version}",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "sizes": sorted(args.sizes), "reminders_at_largest": total_reminders,
        "elapsed_s": round(time.perf_counter() - started, 1), "runs": results,
    }
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
