"""Benchmark: the officer console at city scale (issue 17, target 4).

    .venv/bin/python bench/console.py [--quick] [--requests N] [--rebuild] [--database-url URL]

Data (full size): 1,000,000 room addresses in 200 communities of 20 stations, 300,000 rental
houses, 1,000,000 persons (document numbers and phones encrypted and blind-indexed) with one
residence each, and 1,000,000 declarations spread over a year in every status — generated with
the Core bulk inserts of bench/validation.py (`build_data`). `--quick`: 100,000 addresses,
30,000 houses, 40,000 declarations, 30 requests a case, deep page 10 (under 60 s once built).

Build once, reuse: the data stay in the bench's own database (default BENCH_CONSOLE_DATABASE_URL
or mysql+pymysql://root@127.0.0.1/anju_bench_console?charset=utf8mb4, `anju_bench_console_quick`
for --quick; created if missing and migrated). The field keys are derived from a fixed bench seed, so a later run can read what an
earlier one wrote; a run reuses the data when the row counts match the size asked for and a
person's number decrypts with those keys, and rebuilds them otherwise (or with --rebuild). The
build runs in a child process, so the peak RSS reported is the serving process's alone.

Then, through the real app (Flask test client, the officer signed in through the login form,
searches POSTed and their `?s=` result page followed), p50/p95 over N requests of each case as a
station admin (one station) and as a branch admin (all 20 stations): review queue first page, the
deep page reached by following "下一页" links, search by document number, name, phone and address
text, person timeline, house timeline, the address list of a community. Only 127.0.0.1 databases
are used; each case stops after N requests or --case-seconds, whichever comes first. Human lines
first, then one JSON object with the figures on the last line.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import ensure_database, start_redis  # noqa: E402

DEFAULT_URL = "mysql+pymysql://root@127.0.0.1/anju_bench_console?charset=utf8mb4"
QUICK_URL = "mysql+pymysql://root@127.0.0.1/anju_bench_console_quick?charset=utf8mb4"
PASSWORD = "Bench-console-2026!"
STATIONS, AREAS = 20, 40
# Where declarations stand a year into a city's use: most decided, a third waiting.
STATUS_MIX = (("approved", 0.55), ("verified", 0.15), ("needs_review", 0.12), ("flagged", 0.05),
              ("rejected", 0.08), ("received", 0.05))
LATE_SHARE = 0.08
TARGET_MS = 200


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="The data are built once and reused; see above.")
    parser.add_argument("--quick", action="store_true", help="smaller data, under 60 s once built")
    parser.add_argument("--requests", type=int, default=None, help="per case (default 200; quick 30)")
    parser.add_argument("--case-seconds", type=float, default=120, help="time limit per case")
    parser.add_argument("--rebuild", action="store_true", help="build the data even if present")
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_CONSOLE_DATABASE_URL"))
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    # The quick data live in a database of their own, so the full data are never rebuilt by it.
    args.database_url = args.database_url or (QUICK_URL if args.quick else DEFAULT_URL)
    args.addresses = 100_000 if args.quick else 1_000_000
    args.houses = 30_000 if args.quick else 300_000
    args.declarations = 40_000 if args.quick else 1_000_000
    args.deep_page = 10 if args.quick else 200
    if args.requests is None:
        args.requests = 30 if args.quick else 200
    from sqlalchemy.engine import make_url

    if make_url(args.database_url).host not in ("127.0.0.1", "localhost"):
        raise SystemExit("this bench runs only against a database on 127.0.0.1")
    return args


def bench_key(name: str) -> str:
    """A fixed key per purpose: the data built by one run stay readable by the next."""
    return base64.b64encode(hashlib.sha256(f"anju-bench-console:{name}".encode()).digest()).decode()


def make_app(url: str, redis_url: str | None):
    from app import create_app

    instance = Path(os.environ.get("TMPDIR", "/tmp")) / "anju-bench-console"
    instance.mkdir(exist_ok=True)
    os.environ["ANJU_INSTANCE_PATH"] = str(instance)
    return create_app({
        "SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": redis_url, "SECRET_KEY": bench_key("secret"),
        "FIELD_ENCRYPTION_KEYS": "bench:" + bench_key("field"),
        "FIELD_ENCRYPTION_ACTIVE_KEY_ID": "bench", "BLIND_INDEX_KEY": bench_key("blind"),
        # The test client speaks plain http to the app: let it send the session cookie back.
        "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False,
    })


# -- data --------------------------------------------------------------------------------------

def shape(row: dict, rng: random.Random) -> None:
    """A declaration's status, age (up to a year) and lateness."""
    pick, total = rng.random(), 0.0
    for status, share in STATUS_MIX:
        total += share
        if pick < total:
            break
    row["status"] = status
    row["created_at"] = row["updated_at"] = row["created_at"] - timedelta(
        seconds=rng.randint(0, 365 * 86400))
    late = rng.random() < LATE_SHARE
    # Every row names every column: a bulk insert takes its columns from the first row.
    row["is_late"], row["late_hours"] = late, rng.randint(25, 900) if late else None


def data_present(args) -> bool:
    from sqlalchemy import text

    from app import crypto
    from app.extensions import db

    counts = [db.session.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar()
              for t in ("address", "house", "person", "declaration")]
    if counts != [args.addresses, args.houses, args.declarations, args.declarations]:
        return False
    stored = db.session.execute(text("SELECT document_number_enc FROM person LIMIT 1")).scalar()
    try:
        crypto.decrypt(stored)
    except Exception:  # noqa: BLE001 - written with other keys: build again
        return False
    return True


def build(args) -> None:
    """Empty the bench database and build the data set (run in a child process)."""
    from bench.validation import build_data, empty_all_tables

    app = make_app(args.database_url, None)
    with app.app_context():
        empty_all_tables()
        build_data(args, random.Random(args.seed), stations=STATIONS, areas=AREAS,
                   houses=args.houses, phones=True, shape=shape)


def ensure_officers():
    """A station admin of station 1 and a branch admin, with a known password."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Officer
    from app.services.accounts.officers import hash_password

    made = {}
    for username, role, station in (("bench_station", "station_admin", 1),
                                    ("bench_branch", "branch_admin", None)):
        officer = db.session.execute(select(Officer).where(Officer.username == username)).scalar()
        if officer is None:
            officer = Officer(username=username, password_hash=hash_password(PASSWORD),
                              name="压测" + ("所管理员" if station else "分局管理员"),
                              badge_number=f"BENCH-{username}", role=role, branch_id=1,
                              station_id=station)
            db.session.add(officer)
        officer.failed_logins, officer.locked_until = 0, None
        made[role] = officer
    db.session.commit()
    return {role: officer.id for role, officer in made.items()}


def samples(officer, n: int, rng: random.Random) -> dict:
    """Persons, houses, addresses and communities inside the officer's area, to ask for."""
    from sqlalchemy import select

    from app import crypto
    from app.extensions import db
    from app.models import Address, Community, House, Person, Residence
    from app.services.accounts import scoping

    rows = db.session.execute(scoping.scope_houses(
        select(Residence.person_id, Residence.house_id, House.address_id)
        .join(House, House.id == Residence.house_id), officer).limit(50_000)).all()
    picked = rng.sample(rows, min(n, len(rows)))
    persons = {p.id: p for p in db.session.execute(
        select(Person).where(Person.id.in_([r[0] for r in picked]))).scalars()}
    addresses = dict(db.session.execute(select(Address.id, Address.full_text).where(
        Address.id.in_([r[2] for r in picked]))).all())
    communities = db.session.execute(scoping.scope_communities(
        select(Community.id), officer)).scalars().all()
    out = {"person_ids": [r[0] for r in picked], "house_ids": [r[1] for r in picked],
           "documents": [crypto.decrypt(persons[r[0]].document_number_enc) for r in picked],
           "phones": [crypto.decrypt(persons[r[0]].phone_enc) for r in picked],
           "names": [persons[r[0]].name for r in picked],
           # "安和路12号3幢": a building, as an officer types it (about 140 rooms match).
           "address_texts": [re.sub(r"\d+单元.*$", "", addresses[r[2]]) for r in picked],
           "communities": [rng.choice(communities) for _ in picked]}
    db.session.rollback()
    return out


# -- requests ----------------------------------------------------------------------------------

def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def sign_in(app, username: str):
    client = app.test_client()
    token = csrf_token(client.get("/console/login").get_data(as_text=True))
    resp = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                               "csrf_token": token})
    if resp.status_code != 302:
        raise SystemExit(f"could not sign in as {username}: {resp.status_code}")
    client.search_token = csrf_token(client.get("/console/search").get_data(as_text=True))
    return client


def deep_page_url(client, page: int) -> tuple[str, int]:
    """Follow "下一页" from the queue's first page; the URL of page `page` (or the last one)."""
    url, reached = "/console/declarations", 1
    while reached < page:
        body = client.get(url).get_data(as_text=True)
        found = re.search(r'href="([^"]+)">下一页<', body)
        if not found:
            break
        url, reached = html.unescape(found.group(1)), reached + 1
    return url, reached


def search_request(client, q: str, kind: str):
    resp = client.post("/console/search", data={"q": q, "kind": kind,
                                                "csrf_token": client.search_token})
    if resp.status_code != 303:
        return resp
    return client.get(resp.headers["Location"])


def cases(client, sample: dict, deep_url: str) -> dict:
    return {
        "queue_first_page": lambda i: client.get("/console/declarations"),
        "queue_deep_page": lambda i: client.get(deep_url),
        "search_document": lambda i: search_request(client, sample["documents"][i], "auto"),
        "search_name": lambda i: search_request(client, sample["names"][i], "name"),
        "search_phone": lambda i: search_request(client, sample["phones"][i], "auto"),
        "search_address": lambda i: search_request(client, sample["address_texts"][i], "address"),
        "person_timeline": lambda i: client.get(f"/console/persons/{sample['person_ids'][i]}"),
        "house_timeline": lambda i: client.get(f"/console/houses/{sample['house_ids'][i]}"),
        "community_addresses": lambda i: client.get(
            f"/console/addresses?community_id={sample['communities'][i]}"),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_case(call, n: int, seconds: float) -> dict:
    call(0)  # one warm-up request: compiled statements and templates, as in a running worker
    latencies, errors, stop_at = [], 0, time.monotonic() + seconds
    for i in range(n):
        t = time.perf_counter()
        resp = call(i)
        latencies.append((time.perf_counter() - t) * 1000)
        errors += resp.status_code != 200
        if time.monotonic() > stop_at:
            break
    return {"requests": len(latencies), "errors": errors,
            "p50_ms": round(percentile(latencies, 0.5), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
            "max_ms": round(max(latencies), 1)}


def main() -> int:
    args = parse_args()
    t_start = time.perf_counter()
    ensure_database(args.database_url, require_mysql=True)
    if args.build_only:
        build(args)
        return 0
    redis_url = start_redis()
    app = make_app(args.database_url, redis_url)
    load_before = round(os.getloadavg()[0], 1)
    build_seconds = None
    with app.app_context():
        from flask_migrate import upgrade
        from sqlalchemy import text

        from app.extensions import db

        t = time.perf_counter()
        upgrade()
        print(f"migrated in {time.perf_counter() - t:.1f} s")
        version = db.session.execute(text("SELECT VERSION()")).scalar()
        present = not args.rebuild and data_present(args)
        db.session.remove()
    if not present:
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--build-only",
                        *(["--quick"] if args.quick else []),
                        "--database-url", args.database_url, "--seed", str(args.seed)],
                       check=True)
        build_seconds = round(time.perf_counter() - t, 1)
        print(f"built the data in {build_seconds} s")
    else:
        print("reusing the data already in the bench database")
    rng = random.Random(args.seed + 1)
    results: dict = {}
    with app.app_context():
        from app.models import Officer

        plan = []
        for role, officer_id in ensure_officers().items():
            officer = db.session.get(Officer, officer_id)
            plan.append((role, officer.username, samples(officer, args.requests, rng)))
        db.session.remove()
    # Requests run outside any app context, as under a server: each request has its own `g`.
    for role, username, sample in plan:
        client = sign_in(app, username)
        deep_url, reached = deep_page_url(client, args.deep_page)
        results[role] = {"deep_page": reached}
        for name, call in cases(client, sample, deep_url).items():
            figures = run_case(call, min(args.requests, len(sample["person_ids"])),
                               args.case_seconds)
            results[role][name] = figures
            mark = "met" if figures["p95_ms"] < TARGET_MS else "MISSED"
            print(f"{role:13} {name:20} p50 {figures['p50_ms']:7.1f} ms  p95 "
                  f"{figures['p95_ms']:7.1f} ms  ({figures['requests']} requests, "
                  f"{figures['errors']} errors) {mark}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    build_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of the serving process {peak_mb:,.0f} MB"
          + (f", of the build {build_peak_mb:,.0f} MB" if build_seconds else "")
          + f"; total {time.perf_counter() - t_start:.0f} s")
    print(json.dumps({
        "bench": "console", "quick": args.quick, "addresses": args.addresses,
        "houses": args.houses, "persons": args.declarations, "declarations": args.declarations,
        "stations": STATIONS, "server_version": version, "python": platform.python_version(),
        "nproc": os.cpu_count(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "load_average_before": load_before, "load_average_after": round(os.getloadavg()[0], 1),
        "build_seconds": build_seconds, "results": results, "peak_rss_mb": round(peak_mb),
        "build_peak_rss_mb": round(build_peak_mb) if build_seconds else None,
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
