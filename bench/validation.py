"""Benchmark: declaration validation on RQ — batched jobs vs one job per declaration, and matching.

    .venv/bin/python bench/validation.py [--quick] [--addresses N] [--declarations N]
                                         [--baseline N] [--batch-size N] [--database-url URL]

Runs against its own database (default BENCH_VALIDATION_DATABASE_URL or
mysql+pymysql://root@127.0.0.1/anju_bench_validation?charset=utf8mb4), which it creates if
missing, migrates, and empties before and after the run (it owns every row in it), and against
a private redis-server it starts on a free port and stops at the end. Human lines first, then one
JSON object with the figures on the last line.

What it measures, in one run on one data set:
- the p50/p95 latency of `match_address` on free text (warm scope cache, as in a running worker),
  and the cold load of one community's scope;
- declarations/s of one job per declaration (`validate_declaration`) on RQ's default forking
  worker, on a sample;
- the same on a non-forking SimpleWorker, for scale (warm caches between jobs);
- declarations/s of the batched path (`validate_declarations_batch` via
  `enqueue_validation_batches`) on the same forking worker, on the rest.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import secrets
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import ensure_database, make_app, start_redis  # noqa: E402

DEFAULT_URL = "mysql+pymysql://root@127.0.0.1/anju_bench_validation?charset=utf8mb4"
ROAD_HEADS = list("安和兴文长振前光滨湖建育福康瑞金翠明春新锦祥民东西南北")
ROAD_TAILS = ["路", "街", "大道", "巷", "中路", "东路", "西路"]
CN = "零一二三四五六七八九"
FREE_TEXT_SHARE = 0.05  # self-declarations typed as free text (no door plate)
WATCH_SHARE = 0.01  # declarations naming a watch-listed person


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="50,000 addresses / 5,000 declarations, under 60 s")
    parser.add_argument("--addresses", type=int, default=None)
    parser.add_argument("--declarations", type=int, default=None)
    parser.add_argument("--baseline", type=int, default=None,
                        help="declarations validated one job each, per worker kind (default 2,000; quick 200)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--queries", type=int, default=2000, help="free-text match queries")
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_VALIDATION_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--keep", action="store_true", help="leave the data in place afterwards")
    args = parser.parse_args()
    if args.addresses is None:
        args.addresses = 50_000 if args.quick else 1_000_000
    if args.declarations is None:
        args.declarations = 5_000 if args.quick else 100_000
    if args.baseline is None:
        args.baseline = 200 if args.quick else 2_000
    if args.quick:
        args.queries = min(args.queries, 1000)
    return args


# -- infrastructure --------------------------------------------------------------------------

def empty_all_tables() -> None:
    """The bench owns its database: empty every table of the schema."""
    from sqlalchemy import text

    from app.extensions import db

    db.session.execute(text("SET FOREIGN_KEY_CHECKS=0"))
    for table in db.metadata.sorted_tables:
        db.session.execute(text(f"TRUNCATE TABLE `{table.name}`"))
    db.session.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    db.session.commit()


# -- data --------------------------------------------------------------------------------------

def _insert(table, rows: list[dict], chunk: int = 5000) -> None:
    from app.extensions import db

    for start in range(0, len(rows), chunk):
        db.session.execute(table.insert(), rows[start:start + chunk])
    db.session.commit()


def build_data(args, rng: random.Random) -> dict:
    """Jurisdiction, addresses, houses, persons, watch entries and declarations in `received`."""
    from app import crypto
    from app.extensions import db
    from app.fakedata import FakeData
    from app.models import (
        Address, Branch, Community, Declaration, DeclarationEvent, House, Person, PoliceArea,
        Residence, Station, Watch,
    )

    now = datetime.utcnow().replace(microsecond=0)
    per_community = 5000
    n_communities = max(1, args.addresses // per_community)
    stations, areas = 4, 20
    _insert(Branch.__table__, [{"id": 1, "code": "BV", "name": "压测分局", "region_code": "350299",
                                "created_at": now, "updated_at": now}])
    _insert(Station.__table__, [{"id": s + 1, "branch_id": 1, "code": f"BV-S{s}",
                                 "name": f"压测派出所{s + 1}", "created_at": now,
                                 "updated_at": now} for s in range(stations)])
    _insert(PoliceArea.__table__, [{"id": a + 1, "station_id": a % stations + 1,
                                    "code": f"BV-A{a}", "name": f"压测第{a + 1}警务区",
                                    "created_at": now, "updated_at": now} for a in range(areas)])
    communities = []
    for c in range(n_communities):
        area = c % areas + 1
        communities.append({"id": c + 1, "police_area_id": area,
                            "station_id": (area - 1) % stations + 1, "code": f"BV-C{c:04d}",
                            "name": f"压测社区{c + 1}", "created_at": now, "updated_at": now})
    _insert(Community.__table__, communities)

    t0 = time.perf_counter()
    addresses: list[tuple[int, int, str]] = []  # (id, community_id, full_text)
    rows, next_id = [], 1
    for community in communities:
        made = 0
        building = 0
        while made < per_community and next_id <= args.addresses:
            building += 1
            road = rng.choice(ROAD_HEADS) + rng.choice(ROAD_HEADS) + rng.choice(ROAD_TAILS)
            number = f"{rng.randint(1, 399)}号"
            for unit in (1, 2):
                for floor in range(1, 19):
                    for room in range(1, 5):
                        if made >= per_community or next_id > args.addresses:
                            break
                        text = f"{road}{number}{building}幢{unit}单元{floor}{room:02d}室"
                        rows.append({
                            "id": next_id, "code": f"BV{next_id:09d}", "level": "room",
                            "community_id": community["id"],
                            "police_area_id": community["police_area_id"],
                            "station_id": community["station_id"], "road": road,
                            "number": number, "building": f"{building}幢",
                            "unit": f"{unit}单元", "floor": str(floor),
                            "room": f"{floor}{room:02d}室", "full_text": text,
                            "is_residential": True, "qr_token": secrets.token_urlsafe(16),
                            "status": "active", "created_at": now, "updated_at": now})
                        addresses.append((next_id, community["id"], text))
                        next_id += 1
                        made += 1
        if len(rows) >= 20000:
            _insert(Address.__table__, rows)
            rows = []
    _insert(Address.__table__, rows)
    print(f"inserted {len(addresses):,} addresses in {n_communities} communities "
          f"in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    n_decl = args.declarations
    n_houses = max(1, n_decl // 2)
    house_addresses = rng.sample(addresses, n_houses)
    community_of = {c["id"]: c for c in communities}
    houses = []
    for i, (address_id, community_id, text) in enumerate(house_addresses):
        c = community_of[community_id]
        houses.append({"id": i + 1, "address_id": address_id, "station_id": c["station_id"],
                       "police_area_id": c["police_area_id"], "is_rental": True,
                       "rental_type": "whole", "rooms": rng.randint(2, 4), "status": "active",
                       "is_vacant": False, "created_at": now, "updated_at": now,
                       "collected_at": now, "collected_by_type": "import",
                       "collected_channel": "import"})
    _insert(House.__table__, houses)

    fake = FakeData(args.seed)
    persons, watch, seen = [], [], set()
    for i in range(n_decl):
        number = fake.resident_id()
        while number in seen:  # the generator repeats itself now and then at this size
            number = fake.resident_id()
        seen.add(number)
        enc, blind, masked = crypto.protect_document("resident_id", number)
        persons.append({"id": i + 1, "document_type": "resident_id", "document_number_enc": enc,
                        "document_blind_index": blind, "document_masked": masked,
                        "name": fake.name(), "nationality": "CHN", "is_floating": True,
                        "birth_date": date(1990, 1, 1), "created_at": now, "updated_at": now,
                        "collected_at": now, "collected_by_type": "import",
                        "collected_channel": "import"})
        if rng.random() < WATCH_SHARE:
            watch.append({"document_type": "resident_id", "document_blind_index": blind,
                          "category": "重点人员", "source": "压测", "listed_at": now,
                          "created_at": now, "updated_at": now})
    _insert(Person.__table__, persons)
    _insert(Watch.__table__, watch)

    declarations, events, residences = [], [], []
    start = (now - timedelta(days=1)).date()
    for i in range(n_decl):
        person = persons[i]
        tenant = {"person_id": person["id"], "name": person["name"],
                  "document_type": "resident_id", "document_masked": person["document_masked"],
                  "phone_masked": None, "nationality": "CHN"}
        base = {"id": i + 1, "status": "received", "submitter_role": "landlord",
                "channel": "import", "receipt_code": f"BV{i + 1:08d}", "is_late": False,
                "created_at": now, "updated_at": now}
        if rng.random() < FREE_TEXT_SHARE:
            address_id, community_id, text = rng.choice(addresses)
            c = community_of[community_id]
            declarations.append(dict(base, kind="self", house_id=None, address_id=None,
                                     station_id=c["station_id"],
                                     police_area_id=c["police_area_id"], payload={
                                         "address_text": variant(text, rng),
                                         "community_id": community_id, "tenants": []}))
        else:
            house = houses[i % n_houses]
            residence_id = len(residences) + 1
            residences.append({"id": residence_id, "person_id": person["id"],
                               "house_id": house["id"], "start_date": start,
                               "declared_by": "landlord", "channel": "import",
                               "status": "pending", "active_slot": 1,
                               "relation_to_landlord": "承租人", "declaration_id": i + 1,
                               "created_at": now, "updated_at": now, "collected_at": now,
                               "collected_by_type": "import", "collected_channel": "import"})
            address_text = house_addresses[i % n_houses][2]
            declarations.append(dict(base, kind="move_in", house_id=house["id"],
                                     address_id=house["address_id"],
                                     station_id=house["station_id"],
                                     police_area_id=house["police_area_id"], payload={
                                         "house_id": house["id"], "address": address_text,
                                         "tenants": [dict(tenant, residence_id=residence_id,
                                                          start_date=start.isoformat(),
                                                          room=None, relation="承租人",
                                                          foreign=False, late=False,
                                                          late_hours=None)]}))
        events.append({"declaration_id": i + 1, "from_status": None, "to_status": "received",
                       "actor": "import", "at": now})
    # JSONText is a TypeDecorator: Core inserts through the table apply it like the ORM does.
    _insert(Declaration.__table__, declarations)
    _insert(Residence.__table__, residences)
    _insert(DeclarationEvent.__table__, events)
    db.session.commit()
    print(f"inserted {len(houses):,} houses, {len(persons):,} persons ({len(watch):,} listed), "
          f"{len(declarations):,} declarations in {time.perf_counter() - t0:.1f} s")
    return {"addresses": addresses, "communities": communities,
            "declaration_ids": [d["id"] for d in declarations]}


def variant(text: str, rng: random.Random) -> str:
    """How people type an address: 栋/号楼 for 幢, Chinese or full-width numerals, spaces."""
    out = text.replace("幢", rng.choice(["栋", "号楼", "座", "幢"]))
    if rng.random() < 0.5:
        out = re.sub(r"(\d)单元", lambda m: CN[int(m.group(1))] + "单元", out)
    if rng.random() < 0.3:
        out = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in out)
    if rng.random() < 0.3:
        out = out.replace("号", "号 ", 1)
    if rng.random() < 0.3:
        out = out.removesuffix("室")
    return out


# -- measurements ------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure_matching(data: dict, n: int, rng: random.Random) -> dict:
    """p50/p95 of a free-text match with the scopes loaded, plus the cold load of one scope."""
    from app.services.registry.address_match import match_address, scope_cache

    sample = rng.sample(data["addresses"], min(n, len(data["addresses"])))
    scope_cache.clear()
    cold = []
    for community_id in sorted({c for _, c, _ in sample})[:20]:
        t = time.perf_counter()
        scope_cache.get(("community", community_id))
        cold.append((time.perf_counter() - t) * 1000)
    for community_id in {c for _, c, _ in sample}:
        scope_cache.get(("community", community_id))
    latencies, hits = [], 0
    for address_id, community_id, text in sample:
        typed = variant(text, rng)
        t = time.perf_counter()
        candidates = match_address(typed, community_id=community_id)
        latencies.append((time.perf_counter() - t) * 1000)
        hits += bool(candidates) and candidates[0].address_id == address_id
    figures = {"queries": len(sample), "p50_ms": round(percentile(latencies, 0.5), 2),
               "p95_ms": round(percentile(latencies, 0.95), 2),
               "max_ms": round(max(latencies), 2), "top1_accuracy": round(hits / len(sample), 4),
               "cold_scope_load_ms": round(sum(cold) / len(cold), 1)}
    print(f"address match: {figures['queries']:,} free-text queries, p50 {figures['p50_ms']} ms, "
          f"p95 {figures['p95_ms']} ms, top-1 {figures['top1_accuracy']:.1%}; cold load of a "
          f"{len(data['addresses']) // len(data['communities']):,}-address community "
          f"{figures['cold_scope_load_ms']} ms")
    return figures


def run_worker(app, queue: str, simple: bool = False) -> float:
    """Drain one queue with RQ's default forking worker (as `python -m workers`); seconds."""
    import logging

    from workers.runner import make_worker

    worker = make_worker(app, [queue], simple=simple)
    t = time.perf_counter()
    worker.work(burst=True, logging_level=logging.WARNING)
    return time.perf_counter() - t


def status_counts(ids: list[int]) -> dict:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Declaration

    counts: dict[str, int] = {}
    for start in range(0, len(ids), 10000):
        for status, n in db.session.execute(
                select(Declaration.status, func.count()).where(
                    Declaration.id.in_(ids[start:start + 10000])).group_by(Declaration.status)):
            counts[status] = counts.get(status, 0) + n
    db.session.rollback()
    return counts


def main() -> None:
    args = parse_args()
    t_start = time.perf_counter()
    ensure_database(args.database_url, require_mysql=True)
    redis_url = start_redis()
    app = make_app(args.database_url, redis_url)
    rng = random.Random(args.seed)
    with app.app_context():
        from flask_migrate import upgrade
        from sqlalchemy import text

        from app.extensions import db
        from app.services.registry.address_match import scope_cache
        from workers.jobs import enqueue_validation_batches, validate_declaration
        from workers.queues import enqueue_now

        upgrade()
        version = db.session.execute(text("SELECT VERSION()")).scalar()
        print(f"database: MariaDB/MySQL {version}; {args.addresses:,} addresses, "
              f"{args.declarations:,} declarations, batch size {args.batch_size}")
        empty_all_tables()
        data = build_data(args, rng)
        matching = measure_matching(data, args.queries, rng)
        scope_cache.clear()  # the workers below start cold, like freshly started workers

        ids = data["declaration_ids"]
        sample = ids[:args.baseline]
        simple_sample = ids[args.baseline:2 * args.baseline]
        rest = ids[2 * args.baseline:]
        for declaration_id in sample:
            enqueue_now(validate_declaration, declaration_id, queue="default")
        db.session.remove()
        baseline_s = run_worker(app, "default")
        baseline_rate = len(sample) / baseline_s
        baseline_counts = status_counts(sample)
        print(f"one job per declaration: {len(sample):,} in {baseline_s:.1f} s = "
              f"{baseline_rate:,.0f} declarations/s per worker process  {baseline_counts}")

        # For scale: the same one-job-per-declaration path on a worker that does not fork, so
        # compiled statements, connections and imports stay warm between jobs.
        for declaration_id in simple_sample:
            enqueue_now(validate_declaration, declaration_id, queue="default")
        db.session.remove()
        simple_s = run_worker(app, "default", simple=True)
        simple_rate = len(simple_sample) / simple_s
        print(f"one job per declaration, non-forking SimpleWorker: {len(simple_sample):,} in "
              f"{simple_s:.1f} s = {simple_rate:,.0f} declarations/s  "
              f"{status_counts(simple_sample)}")

        jobs = enqueue_validation_batches(rest, size=args.batch_size, queue="low")
        db.session.commit()  # the batches are queued after commit
        db.session.remove()
        batched_s = run_worker(app, "low")
        batched_rate = len(rest) / batched_s
        batched_counts = status_counts(rest)
        print(f"batched ({jobs} jobs of {args.batch_size}): {len(rest):,} in {batched_s:.1f} s = "
              f"{batched_rate:,.0f} declarations/s per worker process  {batched_counts}")
        left = batched_counts.get("received", 0) + baseline_counts.get("received", 0)
        if left:
            raise SystemExit(f"{left} declarations were not validated")
        speedup = batched_rate / baseline_rate
        print(f"speed-up {speedup:.1f}x; targets: >= 500/s "
              f"({'met' if batched_rate >= 500 else 'MISSED'}), >= 5x "
              f"({'met' if speedup >= 5 else 'MISSED'}), match p95 < 10 ms "
              f"({'met' if matching['p95_ms'] < 10 else 'MISSED'})")
        if not args.keep:
            empty_all_tables()

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak_mb:,.0f} MB; total {time.perf_counter() - t_start:.0f} s")
    print(json.dumps({
        "bench": "validation", "quick": args.quick, "addresses": args.addresses,
        "declarations": args.declarations, "batch_size": args.batch_size,
        "server_version": version, "python": platform.python_version(), "nproc": os.cpu_count(),
        "match": matching,
        "per_declaration": {"declarations": len(sample), "seconds": round(baseline_s, 2),
                            "per_second": round(baseline_rate, 1), "statuses": baseline_counts},
        "per_declaration_simple_worker": {"declarations": len(simple_sample),
                                          "seconds": round(simple_s, 2),
                                          "per_second": round(simple_rate, 1)},
        "batched": {"declarations": len(rest), "jobs": jobs, "seconds": round(batched_s, 2),
                    "per_second": round(batched_rate, 1), "statuses": batched_counts},
        "speedup": round(speedup, 2), "peak_memory_mb": round(peak_mb),
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
