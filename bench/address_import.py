"""Benchmark: `flask addresses import` on a generated registry — first import, re-run, update run.

    .venv/bin/python bench/address_import.py [--quick] [--rows N] [--database-url URL]

Runs against its own database (default BENCH_DATABASE_URL or
mysql+pymysql://root@127.0.0.1/anju_bench?charset=utf8mb4), which it creates if missing and
migrates; it creates its own jurisdiction rows and removes the addresses it made before and after
the run. Human lines first, then one JSON object with the figures on the last line.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import ensure_database, make_app  # noqa: E402

DEFAULT_URL = "mysql+pymysql://root@127.0.0.1/anju_bench?charset=utf8mb4"
PREFIX = "BENCH-AI"  # every jurisdiction row and address code this bench owns starts with it
COLUMNS = ["code", "level", "parent_code", "community", "road", "number", "building", "unit",
           "floor", "room", "full_text", "aliases", "lat", "lng", "is_residential"]
ROAD_HEADS = list("安和兴文长振前光滨湖建育福康瑞金翠明春新锦祥民东西南北")
ROAD_TAILS = ["路", "街", "大道", "巷", "中路", "东路", "西路"]
ESTATES = ["花园", "新村", "公寓", "小区", "家园", "苑", "大厦"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows, under 60 s")
    parser.add_argument("--rows", type=int, default=None, help="rows to generate (default 100,000)")
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args()
    if args.rows is None:
        args.rows = 10_000 if args.quick else 100_000
    return args


def remove_bench_addresses() -> int:
    """Delete the addresses in the bench's communities (children unlinked first)."""
    from sqlalchemy import delete, select, update

    from app.extensions import db
    from app.models import Address, Community

    ids = select(Community.id).where(Community.code.like(f"{PREFIX}-%")).scalar_subquery()
    db.session.execute(update(Address).where(Address.community_id.in_(ids)).values(parent_id=None))
    removed = db.session.execute(delete(Address).where(Address.community_id.in_(ids))).rowcount
    db.session.commit()
    return removed


def ensure_jurisdiction(n_communities: int = 10) -> list[str]:
    """The bench's branch, two stations, four police areas and its communities; returns codes."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Branch, Community, PoliceArea, Station

    def get_or_add(model, code, **fields):
        row = db.session.execute(select(model).where(model.code == code)).scalar()
        if row is None:
            row = model(code=code, **fields)
            db.session.add(row)
            db.session.flush()
        return row

    branch = get_or_add(Branch, f"{PREFIX}-B", name="压测分局", region_code="350299")
    codes = []
    for i in range(n_communities):
        station = get_or_add(Station, f"{PREFIX}-S{i % 2}", branch_id=branch.id,
                             name=f"压测派出所{i % 2 + 1}")
        area = get_or_add(PoliceArea, f"{PREFIX}-A{i % 4}", station_id=station.id,
                          name=f"压测第{i % 4 + 1}警务区")
        community = get_or_add(Community, f"{PREFIX}-C{i:02d}", police_area_id=area.id,
                               station_id=area.station_id, name=f"压测社区{i + 1:02d}")
        codes.append(community.code)
    db.session.commit()
    return codes


def generate_rows(n: int, communities: list[str], rng: random.Random) -> list[dict]:
    """n address rows (buildings → units → rooms), shuffled so many parents come after children."""
    rows: list[dict] = []
    b_index = 0
    while len(rows) < n:
        b_index += 1
        community = communities[b_index % len(communities)]
        road = rng.choice(ROAD_HEADS) + rng.choice(ROAD_HEADS) + rng.choice(ROAD_TAILS)
        number = f"{rng.randint(1, 999)}号"
        estate = rng.choice(ROAD_HEADS) + rng.choice(ROAD_HEADS) + rng.choice(ESTATES)
        building = f"{rng.randint(1, 40)}幢"
        b_code = f"{PREFIX}-{b_index:06d}"
        base = f"{road}{number}{building}"
        rows.append(dict(code=b_code, level=rng.choice(["building", "楼栋", "幢"]), parent_code="",
                         community=community, road=road, number=number, building=building,
                         full_text=base, aliases=f"{estate}{building}|{estate}{number}",
                         lat=f"{24.4 + rng.random() / 5:.6f}",
                         lng=f"{118.0 + rng.random() / 5:.6f}",
                         is_residential="1" if rng.random() < 0.9 else "0"))
        for u in range(1, rng.randint(2, 4) + 1):
            if len(rows) >= n:
                break
            u_code = f"{b_code}-{u}"
            rows.append(dict(code=u_code, level="unit", parent_code=b_code, community=community,
                             road=road, number=number, building=building, unit=f"{u}单元",
                             full_text=f"{base}{u}单元"))
            for floor in range(1, rng.randint(6, 18) + 1):
                for room in range(1, rng.randint(2, 4) + 1):
                    if len(rows) >= n:
                        break
                    rows.append(dict(code=f"{u_code}-{floor}{room:02d}",
                                     level=rng.choice(["room", "房间", "室"]), parent_code=u_code,
                                     community=community, road=road, number=number,
                                     building=building, unit=f"{u}单元", floor=str(floor),
                                     room=f"{floor}{room:02d}室",
                                     full_text=f"{base}{u}单元{floor}{room:02d}室"))
    rng.shuffle(rows)
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)


def timed_import(label: str, path: Path, batch_size: int, rows: int) -> dict:
    from app.services.registry.address_import import import_csv

    start = time.perf_counter()
    report = import_csv(str(path), batch_size=batch_size)
    seconds = time.perf_counter() - start
    figures = {"rows": rows, "seconds": round(seconds, 3),
               "rows_per_second": round(rows / seconds) if seconds else None,
               "inserted": report.inserted, "updated": report.updated,
               "unchanged": report.unchanged, "errors": len(report.errors)}
    print(f"{label:<13} {rows:>8,} rows in {seconds:7.2f} s = "
          f"{figures['rows_per_second']:>8,} rows/s"
          f"  (inserted {report.inserted:,}, updated {report.updated:,}, "
          f"unchanged {report.unchanged:,}, errors {len(report.errors)})")
    if report.errors:
        raise SystemExit(f"unexpected errors, first: {report.errors[:3]}")
    return figures


def main() -> None:
    args = parse_args()
    ensure_database(args.database_url)
    app = make_app(args.database_url)
    with app.app_context():
        from flask_migrate import upgrade
        from sqlalchemy import text

        from app.extensions import db

        upgrade()
        dialect = db.engine.dialect.name
        version = db.session.execute(text(
            "SELECT sqlite_version()" if dialect == "sqlite" else "SELECT VERSION()")).scalar()
        print(f"database: {dialect} {version}; rows: {args.rows:,}; batch size: {args.batch_size}")
        leftovers = remove_bench_addresses()
        if leftovers:
            print(f"removed {leftovers:,} addresses left by an earlier run")
        communities = ensure_jurisdiction()

        rng = random.Random(args.seed)
        rows = generate_rows(args.rows, communities, rng)
        changed = rng.sample(range(len(rows)), max(1, len(rows) // 20))
        with tempfile.TemporaryDirectory(prefix="anju-bench-") as tmp:
            first = Path(tmp) / "addresses.csv"
            write_csv(first, rows)
            for i in changed:  # a correction round: 5 % of full texts and aliases edited
                rows[i] = dict(rows[i], full_text=rows[i]["full_text"] + "（更正）",
                               aliases="更正别名")
            second = Path(tmp) / "addresses-corrected.csv"
            write_csv(second, rows)
            print(f"generated {first.stat().st_size / 1e6:.1f} MB of CSV, parents shuffled")

            results = {
                "first_import": timed_import("first import", first, args.batch_size, args.rows),
                "rerun": timed_import("re-run", first, args.batch_size, args.rows),
                "update_5pct": timed_import("5% changed", second, args.batch_size, args.rows),
            }
        assert results["first_import"]["inserted"] == args.rows
        assert results["rerun"]["inserted"] == results["rerun"]["updated"] == 0
        assert results["update_5pct"]["updated"] == len(changed)
        remove_bench_addresses()

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak_mb:,.0f} MB")
    print(json.dumps({
        "bench": "address_import", "quick": args.quick, "rows": args.rows,
        "batch_size": args.batch_size, "dialect": dialect, "server_version": version,
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "peak_rss_mb": round(peak_mb), **results,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
