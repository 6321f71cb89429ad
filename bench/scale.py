"""Benchmark: how acceptance and validation scale with processes on one host (DESIGN §9).

    .venv/bin/python bench/scale.py [--quick] [--seconds S] [--database-url URL]

1. Declarations accepted per second through the API (`POST /api/v1/houses`, a door plate each,
   with an Idempotency-Key, the owner's identity encrypted and blind-indexed, the declaration,
   its history row and the after-commit enqueue to Redis) under gunicorn with the production
   settings (deploy/gunicorn.conf.py: gthread, 8 threads) and 1, 2 and 4 worker processes,
   driven by 16 keep-alive client threads for S seconds each.
2. Declarations validated per second (`validate_declaration` on RQ's forking worker, plus the
   submitter's push job it queues) with 1, 2 and 4 `python -m workers` processes, on the
   declarations accepted in part 1, counted over S seconds once every worker is busy.

Runs against its own database (default BENCH_SCALE_DATABASE_URL or
mysql+pymysql://root@127.0.0.1/anju_bench_scale?charset=utf8mb4; created if missing, migrated,
emptied before and after) and a private redis-server on a free port. The WeChat sandbox receives
the pushes. Human lines first, then one JSON object with the figures on the last line.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import ensure_database, start_redis  # noqa: E402

DEFAULT_URL = "mysql+pymysql://root@127.0.0.1/anju_bench_scale?charset=utf8mb4"
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
PROCESS_COUNTS = (1, 2, 4)
CLIENT_THREADS = 16
USERS_PER_PHASE = 150  # the API's per-user budget (30/minute) is never what limits the figure
FINAL = ("verified", "needs_review")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s per phase, under 60 s")
    parser.add_argument("--seconds", type=float, default=None, help="length of each phase")
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_SCALE_DATABASE_URL") or DEFAULT_URL)
    args = parser.parse_args()
    if args.seconds is None:
        args.seconds = 2.0 if args.quick else 20.0
    return args


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_env(args, redis_url: str) -> dict:
    from app.crypto import generate_key

    instance = Path(os.environ.get("TMPDIR", "/tmp")) / "anju-bench-scale"
    instance.mkdir(exist_ok=True)
    return {**os.environ, "PYTHONPATH": str(ROOT), "APP_ENV": "development",
            "WECHAT_SANDBOX": "1", "DATABASE_URL": args.database_url, "REDIS_URL": redis_url,
            "ANJU_INSTANCE_PATH": str(instance), "SECRET_KEY": secrets.token_urlsafe(32),
            "FIELD_ENCRYPTION_KEYS": "s1:" + generate_key(),
            "FIELD_ENCRYPTION_ACTIVE_KEY_ID": "s1", "BLIND_INDEX_KEY": generate_key()}


def prepare(env: dict, plates: int, users: int) -> tuple[list[str], list[str]]:
    """Migrate, empty every table, create door plates and mini-program users with tokens."""
    os.environ.update(env)
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from app import create_app
    from app.app_tokens import issue_app_token
    from app.extensions import db
    from app.models import Address, Branch, Community, PoliceArea, Station, WeChatUser

    app = create_app()
    with app.app_context():
        upgrade()
        empty_tables(db)
        branch = Branch(code="B-SCALE", name="扩容压测分局", region_code="350303")
        db.session.add(branch)
        db.session.flush()
        station = Station(branch_id=branch.id, code="S-SCALE", name="扩容压测派出所")
        db.session.add(station)
        db.session.flush()
        area = PoliceArea(station_id=station.id, code="A-SCALE", name="扩容压测警务区")
        db.session.add(area)
        db.session.flush()
        community = Community(police_area_id=area.id, station_id=station.id, code="C-SCALE",
                              name="扩容压测社区")
        db.session.add(community)
        db.session.flush()
        tokens = [secrets.token_urlsafe(16) for _ in range(plates)]
        rows = [dict(code=f"SCALE{n:07d}", level="room", community_id=community.id,
                     police_area_id=area.id, station_id=station.id, road="扩容路",
                     number=f"{n}号", building="1幢", unit="1单元", floor="1", room=f"{n}室",
                     full_text=f"扩容路{n}号1幢1单元{n}室", qr_token=tokens[n], status="active")
                for n in range(plates)]
        for start in range(0, plates, 2000):
            db.session.execute(insert(Address), rows[start:start + 2000])
        people = [WeChatUser(openid=f"oscale{n:022d}", source="miniapp", subscribed=True)
                  for n in range(users)]
        db.session.add_all(people)
        db.session.commit()
        bearer = [issue_app_token(u.id) for u in people]
        db.session.remove()
        db.engine.dispose()
    return tokens, bearer


def empty_tables(db) -> None:
    from sqlalchemy import text

    db.session.rollback()
    db.session.execute(text("SET FOREIGN_KEY_CHECKS=0"))
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    db.session.commit()


def start(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    handle = open(log, "ab")  # noqa: SIM115 - closed in stop()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    proc.log_handle = handle
    return proc


def stop(proc: subprocess.Popen, grace: float = 15) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    proc.log_handle.close()


def wait_healthy(port: int, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited; see its log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn on {port} not healthy after {seconds} s")


def api_phase(port: int, plates: list[str], bearer: list[str], seconds: float,
              phase: str) -> dict:
    """Drive POST /api/v1/houses from client threads for `seconds`; count 201s."""
    lock = threading.Lock()
    counts = {"accepted": 0, "other": 0, "errors": 0}
    latencies: list[float] = []
    from app.fakedata import FakeData

    fake = FakeData(len(plates))
    work = [(i, plate, fake.name(), fake.resident_id(), fake.mobile())
            for i, plate in enumerate(plates)]
    stop_at = time.monotonic() + seconds

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            with lock:
                if not work:
                    return
                i, plate, name, document, phone = work.pop()
            body = json.dumps({"qr_token": plate, "rental_type": "shared", "rooms": 2,
                               "owner": {"name": name, "document_type": "resident_id",
                                         "document_number": document, "phone": phone}})
            headers = {"Authorization": f"Bearer {bearer[i % len(bearer)]}",
                       "Idempotency-Key": f"{phase}-{i}", "Content-Type": "application/json"}
            began = time.monotonic()
            try:
                conn.request("POST", "/api/v1/houses", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                status = None
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with lock:
                if status == 201:
                    counts["accepted"] += 1
                    latencies.append(time.monotonic() - began)
                elif status is None:
                    counts["errors"] += 1
                else:
                    counts["other"] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENT_THREADS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95)] if latencies else None
    return {**counts, "seconds": round(elapsed, 2),
            "per_second": round(counts["accepted"] / elapsed, 1),
            "p95_ms": round(p95 * 1000, 1) if p95 is not None else None}


def count_final(engine) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM declaration WHERE status IN "
                                 "('verified', 'needs_review')")).scalar()


def requeue_received(env: dict, redis_url: str) -> int:
    """Empty Redis and queue one validation job per declaration still waiting, as the API does."""
    import redis
    from rq import Queue
    from sqlalchemy import create_engine, text

    from workers.queues import JOB_SERIALIZER

    redis.Redis.from_url(redis_url).flushdb()
    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(text(
            "SELECT id FROM declaration WHERE status IN ('received', 'validating') ORDER BY id"))]
    engine.dispose()
    queue = Queue("default", connection=redis.Redis.from_url(redis_url), serializer=JOB_SERIALIZER)
    with queue.connection.pipeline() as pipe:
        for declaration_id in ids:
            queue.enqueue("workers.jobs.validate_declaration", declaration_id, pipeline=pipe,
                          job_timeout=120)
        pipe.execute()
    return len(ids)


def worker_phases(env: dict, redis_url: str, seconds: float, logdir: Path) -> dict:
    """Validation rate with 1, then 2, then 4 worker processes on one queue: processes are added
    between phases (as a host adds workers), each phase counted once the new ones are busy."""
    from sqlalchemy import create_engine

    queued = requeue_received(env, redis_url)
    engine = create_engine(env["DATABASE_URL"])
    procs: list[subprocess.Popen] = []
    figures = {}
    try:
        for count in PROCESS_COUNTS:
            before = count_final(engine)
            while len(procs) < count:
                procs.append(start([sys.executable, "-m", "workers"], env,
                                   logdir / f"worker-{len(procs)}.log"))
            deadline = time.monotonic() + 40
            # Started and busy: the new processes have finished a job each (start-up not counted).
            while count_final(engine) < before + count and time.monotonic() < deadline:
                time.sleep(0.1)
            t0, c0 = time.monotonic(), count_final(engine)
            time.sleep(seconds)
            t1, c1 = time.monotonic(), count_final(engine)
            figures[str(count)] = {"queued": queued, "validated": c1 - c0,
                                   "seconds": round(t1 - t0, 2),
                                   "per_second": round((c1 - c0) / (t1 - t0), 1)}
    finally:
        for proc in procs:
            stop(proc, grace=0.5)
        engine.dispose()
    return figures


def main() -> int:
    args = parse_args()
    began = time.monotonic()
    ensure_database(args.database_url, require_mysql=True)
    redis_url = start_redis()
    env = make_env(args, redis_url)
    logdir = Path(os.environ.get("TMPDIR", "/tmp")) / "anju-bench-scale-logs"
    logdir.mkdir(exist_ok=True)
    expected = int(args.seconds * 150) + 200  # more plates than the fastest phase can use
    plates, bearer = prepare(env, plates=expected * len(PROCESS_COUNTS),
                             users=USERS_PER_PHASE * len(PROCESS_COUNTS))
    print(f"prepared {len(plates)} door plates and {len(bearer)} users "
          f"({time.monotonic() - began:.1f} s)")
    result = {"bench": "scale", "quick": args.quick, "seconds_per_phase": args.seconds,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()},
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
              # Other work on the machine shares its cores: the 1-minute load average says how much.
              "load_average_before": round(os.getloadavg()[0], 1), "api": {}, "workers": {}}
    for i, count in enumerate(PROCESS_COUNTS):
        port = free_port()
        # The production settings (deploy/gunicorn.conf.py: gthread, 8 threads), N processes.
        web_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(count),
                   "GUNICORN_KEEPALIVE": "30", "GUNICORN_LOG_LEVEL": "warning"}
        proc = start([GUNICORN, "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "wsgi:app"],
                     web_env, logdir / f"gunicorn-{count}.log")
        try:
            wait_healthy(port, proc)
            users = bearer[i * USERS_PER_PHASE:(i + 1) * USERS_PER_PHASE]
            figures = api_phase(port, plates[i * expected:(i + 1) * expected], users,
                                args.seconds, f"scale{count}")
        finally:
            stop(proc)
        result["api"][str(count)] = figures
        print(f"[{time.monotonic() - began:.0f} s] "
              f"API, {count} gunicorn worker(s): {figures['per_second']} declarations/s accepted "
              f"(p95 {figures['p95_ms']} ms, {figures['other']} refused, "
              f"{figures['errors']} errors)")
    result["workers"] = worker_phases(env, redis_url, args.seconds, logdir)
    for count, figures in result["workers"].items():
        print(f"validation, {count} worker process(es): {figures['per_second']} declarations/s "
              f"({figures['validated']} in {figures['seconds']} s)")
    os.environ.update({"DATABASE_URL": args.database_url})
    from app import create_app
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url, "REDIS_URL": redis_url})
    with app.app_context():
        empty_tables(db)
        db.session.remove()
        db.engine.dispose()
    result["load_average_after"] = round(os.getloadavg()[0], 1)
    result["total_seconds"] = round(time.monotonic() - began, 1)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
