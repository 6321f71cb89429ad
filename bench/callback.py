"""Benchmark: /wechat/callback under gunicorn in safe mode, beside its peer and a bare endpoint.

    .venv/bin/python bench/callback.py [--quick] [--rate 300] [--fixed-seconds S] [--max-seconds S]
                                       [--database-url URL] [--redis-url URL] [--workers N]

Starts three gunicorn servers on free 127.0.0.1 ports with the same worker settings — the real
app (safe mode: AES, signatures, Redis de-duplication, WeChatUser upsert, routing, encrypted
reply), the peer (wechatpy's own documented Flask echo handler, bench/wechatpy_echo.py: signature,
decrypt, parse_message, create_reply, encrypt; no de-duplication, no database) and a bare Flask
app whose /wechat/callback returns "success" — and drives all three from one asyncio load
generator over keep-alive loopback connections with the same kind of encrypted request bodies:
first at a fixed rate (latency counted from each message's scheduled send time, so a stalled
server cannot hide its queue), then at maximum throughput with a fixed number of connections,
in rounds where the three servers take turns (the host is shared; the median round counts).
Every phase is bounded by a message count and a time limit. At the end it reads each server's
peak RSS (VmHWM of the master and of every worker).

The app runs against its own database (default BENCH_CALLBACK_DATABASE_URL or
mysql+pymysql://root@127.0.0.1/anju_bench_callback?charset=utf8mb4; created if missing, migrated,
emptied before and after) and Redis db 14 (flushed before and after). Everything started is stopped
at the end. Human lines first, then one JSON object with the figures on the last line.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import platform
import random
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import ensure_database, free_port, stop, wait_ready  # noqa: E402

DEFAULT_DB = "mysql+pymysql://root@127.0.0.1/anju_bench_callback?charset=utf8mb4"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
OFFICIAL_ID = "gh_benchbench01"
USERS = 500  # distinct followers sending messages
PLATES = 50  # door plates that SCAN events name
RETRY_SHARE = 0.02  # messages WeChat sends again (same MsgId, new nonce): must be answered alike
RETRY_AFTER = 2000  # a retry repeats one of the 200 messages built before the last 2,000
REQUEST_TIMEOUT = 10.0  # a request not answered by then counts as an error (WeChat gives up at 5 s)
TEXTS = ["申报", "我的房屋", "退租", "居住证", "帮助", "你好", "怎么登记租客"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short phases, under 60 s in all")
    parser.add_argument("--rate", type=float, default=300.0, help="fixed rate, messages/s")
    parser.add_argument("--fixed-seconds", type=float, default=None)
    parser.add_argument("--max-seconds", type=float, default=None)
    parser.add_argument("--connections", type=int, default=32,
                        help="connections in the max-throughput phase")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default 2×nproc)")
    parser.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker")
    parser.add_argument("--rounds", type=int, default=3,
                        help="max-throughput turns per server, interleaved (median reported)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_CALLBACK_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    args = parser.parse_args()
    if args.fixed_seconds is None:
        args.fixed_seconds = 6.0 if args.quick else 60.0
    if args.max_seconds is None:
        args.max_seconds = 4.0 if args.quick else 30.0
    if args.workers is None:
        args.workers = 2 * (os.cpu_count() or 1)
    return args


def create_bare_app():
    """The comparison: a Flask app whose /wechat/callback reads the body and answers "success"."""
    from flask import Flask, request

    bare = Flask("bare")

    @bare.post("/wechat/callback")
    def callback():
        request.get_data()
        return "success"

    @bare.get("/healthz")
    def healthz():
        return "ok"

    return bare


# -- setup ---------------------------------------------------------------------------------------

def bench_env(args) -> dict:
    aes_key = base64.b64encode(secrets.token_bytes(32)).decode()[:43]
    return {
        **os.environ,
        "APP_ENV": "production", "WECHAT_SANDBOX": "0", "PYTHONPATH": str(ROOT),
        "DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url,
        "ANJU_INSTANCE_PATH": str(Path(os.environ.get("TMPDIR", "/tmp")) / "anju-bench-callback"),
        "SECRET_KEY": secrets.token_urlsafe(32),
        "FIELD_ENCRYPTION_KEYS": "b1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "FIELD_ENCRYPTION_ACTIVE_KEY_ID": "b1",
        "BLIND_INDEX_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        # Production refuses a local address; the replies' links are never followed here.
        "PUBLIC_BASE_URL": "https://anju-bench.invalid",
        "WECHAT_APP_ID": "wxbench0000000001", "WECHAT_APP_SECRET": secrets.token_hex(16),
        "WECHAT_TOKEN": secrets.token_hex(8), "WECHAT_ENCODING_AES_KEY": aes_key,
        "WECHAT_MESSAGE_MODE": "safe",
    }


def seed_and_empty(env: dict, seed: bool) -> list[str]:
    """Migrate, empty every table, and (seed=True) create door plates; returns their tokens."""
    os.environ.update(env)  # the servers' settings, so this app starts as they do
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db
    from app.models import Address, Branch, Community, PoliceArea, Station

    app = create_app()
    tokens = []
    with app.app_context():
        upgrade()
        mysql = db.engine.dialect.name == "mysql"
        if mysql:
            db.session.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        if mysql:
            db.session.execute(text("SET FOREIGN_KEY_CHECKS=1"))
        db.session.commit()
        if seed:
            branch = Branch(code="B-BENCH", name="压测分局", region_code="350303")
            db.session.add(branch)
            db.session.flush()
            station = Station(branch_id=branch.id, code="S-BENCH", name="压测派出所")
            db.session.add(station)
            db.session.flush()
            area = PoliceArea(station_id=station.id, code="A-BENCH", name="压测警务区")
            db.session.add(area)
            db.session.flush()
            community = Community(police_area_id=area.id, station_id=station.id, code="C-BENCH",
                                  name="压测社区")
            db.session.add(community)
            db.session.flush()
            for n in range(1, PLATES + 1):
                address = Address(code=f"BENCH{n:06d}", level="room", community_id=community.id,
                                  police_area_id=area.id, station_id=station.id, road="压测路",
                                  number=f"{n}号", building="1幢", unit="1单元", floor="1",
                                  room=f"{n}室", full_text=f"压测路{n}号1幢1单元{n}室")
                db.session.add(address)
                db.session.flush()
                tokens.append(address.qr_token)
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return tokens


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def start_gunicorn(target: str, port: int, env: dict, args, log_path: Path) -> subprocess.Popen:
    return common.start_gunicorn(target, port, env, log_path, [
        "--workers", str(args.workers), "--worker-class", "gthread", "--threads",
        str(args.threads), "--keep-alive", "30", "--backlog", "2048"])


# -- messages ------------------------------------------------------------------------------------

class Messages:
    """Encrypted, signed inbound messages exactly as WeChat posts them in safe mode."""

    def __init__(self, env: dict, plates: list[str], seed: int = 20261127):
        from wechatpy.crypto import WeChatCrypto

        self.token = env["WECHAT_TOKEN"]
        self.crypto = WeChatCrypto(self.token, env["WECHAT_ENCODING_AES_KEY"], env["WECHAT_APP_ID"])
        self.random = random.Random(seed)
        self.openids = ["o" + hashlib.sha1(f"bench-{i}".encode()).hexdigest()[:27] for i in range(USERS)]
        self.plates = plates
        self.msg_id = 8_000_000_000_000_000_000
        self.sent: list[str] = []  # plaintext XML already built, for retries

    def _xml(self) -> str:
        r = self.random
        openid = r.choice(self.openids)
        head = (f"<xml><ToUserName><![CDATA[{OFFICIAL_ID}]]></ToUserName>"
                f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>")
        roll = r.random()
        if roll < 0.80 or not self.plates:
            self.msg_id += 1
            return (head + f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{r.choice(TEXTS)}]]>"
                    f"</Content><MsgId>{self.msg_id}</MsgId></xml>")
        # Events are de-duplicated by sender + CreateTime + event: a unique CreateTime per event.
        self.msg_id += 1
        created = 1_700_000_000 + self.msg_id % 1_000_000_000
        head = head.replace(f"<CreateTime>{int(time.time())}</CreateTime>", f"<CreateTime>{created}</CreateTime>")
        if roll < 0.95:
            return (head + "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event>"
                    f"<EventKey><![CDATA[{r.choice(self.plates)}]]></EventKey><Ticket><![CDATA[t]]></Ticket></xml>")
        return (head + "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event>"
                "<EventKey><![CDATA[HELP]]></EventKey></xml>")

    def request(self, path: str = "/wechat/callback") -> bytes:
        """One HTTP/1.1 request: a new message, or (2 %) WeChat's retry of an earlier one."""
        if len(self.sent) > RETRY_AFTER and self.random.random() < RETRY_SHARE:
            # WeChat retries a message only after 5 s without an answer; a "retry" of a message
            # sent a moment ago, still in flight, would measure a thread waiting for it instead.
            xml = self.random.choice(self.sent[-RETRY_AFTER - 200:-RETRY_AFTER])
        else:
            xml = self._xml()
            self.sent.append(xml)
        timestamp, nonce = str(int(time.time())), str(self.random.randrange(10**9))
        envelope = self.crypto.encrypt_message(xml, nonce, timestamp)
        encrypt = envelope.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
        signature = hashlib.sha1("".join(sorted([self.token, timestamp, nonce])).encode()).hexdigest()
        msg_signature = hashlib.sha1("".join(sorted([self.token, timestamp, nonce, encrypt])).encode()).hexdigest()
        query = urlencode({"signature": signature, "timestamp": timestamp, "nonce": nonce,
                           "openid": "x", "encrypt_type": "aes", "msg_signature": msg_signature})
        body = (f"<xml><ToUserName><![CDATA[{OFFICIAL_ID}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>").encode()
        return (f"POST {path}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body


# -- load generator ------------------------------------------------------------------------------

class Connection:
    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def open(self) -> None:
        """Connect ahead of the first request, so a phase does not start with a connect storm."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
                self.writer.write(raw)
                head = await self.reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                body = await self.reader.readexactly(int(headers.get("content-length", "0")))
                if headers.get("connection", "").lower() == "close":
                    self.close()
                return status, body
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()  # the server closed an idle keep-alive connection: reconnect once
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


ERROR_SAMPLES: list[str] = []


def note_error(status: int, body: bytes) -> None:
    if len(ERROR_SAMPLES) < 5:
        ERROR_SAMPLES.append(f"HTTP {status}: {body[:200]!r}")


def summarise(latencies: list[float], errors: int, seconds: float) -> dict:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2) if ordered else 0.0

    return {"messages": len(latencies), "errors": errors, "seconds": round(seconds, 2),
            "msgs_per_s": round(len(latencies) / seconds, 1) if seconds else 0.0,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": round(ordered[-1] * 1000, 2) if ordered else 0.0}


async def fixed_rate(port: int, requests: list[bytes], rate: float, limit: float) -> dict:
    """Send at a fixed rate; latency from the scheduled send time (no coordinated omission)."""
    queue: asyncio.Queue = asyncio.Queue()
    latencies, errors, timeline = [], [0], []
    connections = 64
    pool = [Connection(port) for _ in range(connections)]
    await asyncio.gather(*(conn.open() for conn in pool))
    start = time.perf_counter() + 0.2

    async def schedule():
        for i, raw in enumerate(requests):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.perf_counter() - start > limit:
                break
            queue.put_nowait((due, raw))
        for _ in range(connections):
            queue.put_nowait(None)

    async def worker(conn: Connection):
        while (item := await queue.get()) is not None:
            due, raw = item
            try:
                status, body = await asyncio.wait_for(conn.send(raw), REQUEST_TIMEOUT)
                ok = status == 200 and (body == b"success" or body.startswith(b"<xml>"))
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
                conn.close()
                status, body, ok = 0, repr(exc).encode(), False
            if ok:
                latencies.append(time.perf_counter() - due)
                timeline.append((due - start, latencies[-1]))
            else:
                errors[0] += 1
                note_error(status, body)
        conn.close()

    await asyncio.gather(schedule(), *(worker(conn) for conn in pool))
    result = summarise(latencies, errors[0], time.perf_counter() - start)
    # The slowest answer in each second of the run: shows whether the tail is steady or a burst.
    worst: dict[int, float] = {}
    for offset, latency in timeline:
        worst[int(offset)] = max(worst.get(int(offset), 0.0), latency)
    result["worst_ms_by_second"] = [round(worst[k] * 1000, 1) for k in sorted(worst)]
    return result


async def max_throughput(port: int, requests: list[bytes], connections: int, limit: float) -> dict:
    """As fast as the server answers, on a fixed number of keep-alive connections."""
    iterator = iter(requests)
    latencies, errors = [], [0]
    start = time.perf_counter()

    async def worker():
        conn = Connection(port)
        for raw in iterator:
            if time.perf_counter() - start > limit:
                break
            sent = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(conn.send(raw), REQUEST_TIMEOUT)
                ok = status == 200 and (body == b"success" or body.startswith(b"<xml>"))
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
                conn.close()
                status, body, ok = 0, repr(exc).encode(), False
            if ok:
                latencies.append(time.perf_counter() - sent)
            else:
                errors[0] += 1
                note_error(status, body)
        conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return summarise(latencies, errors[0], time.perf_counter() - start)


def run_phase(name: str, coroutine) -> dict:
    started = time.monotonic()
    result = asyncio.run(coroutine)
    result["wall_s"] = round(time.monotonic() - started, 1)
    print(f"  {name:<34} {result['msgs_per_s']:>8.1f} msg/s  p50 {result['p50_ms']:>7.2f} ms  "
          f"p99 {result['p99_ms']:>7.2f} ms  max {result['max_ms']:>8.2f} ms  "
          f"({result['messages']} answered, {result['errors']} errors)", flush=True)
    return result


def count_handled(redis_url: str) -> int:
    import redis

    return sum(1 for _ in redis.Redis.from_url(redis_url).scan_iter(match="anju:wechat:msg:*", count=1000))


def peak_rss_mb(proc: subprocess.Popen) -> dict:
    """Peak resident memory (VmHWM) of a gunicorn master and of each of its workers, in MB."""
    def hwm(pid: int) -> float:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
        return 0.0

    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == proc.pid:  # the parent pid: a worker of this master
            workers.append(hwm(int(stat.parent.name)))
    return {"master": hwm(proc.pid), "workers": sorted(workers, reverse=True),
            "worker_max": max(workers, default=0.0)}


def median_round(rounds: list[dict]) -> dict:
    """The round with the median rate (the host is shared: turns even out other people's load),
    with every round's rate beside it."""
    ordered = sorted(rounds, key=lambda r: r["msgs_per_s"])
    return {**ordered[len(ordered) // 2], "rounds_msgs_per_s": [r["msgs_per_s"] for r in rounds]}


# name → (gunicorn target, path the messages are posted to)
SERVERS = {
    "app": ("wsgi:app", "/wechat/callback"),
    "peer": ("bench.wechatpy_echo:create_peer_app()", "/wechat"),
    "bare": ("bench.callback:create_bare_app()", "/wechat/callback"),
}
LABELS = {"app": "Anju /wechat/callback", "peer": "wechatpy echo (peer)", "bare": "bare success"}


def main() -> int:
    args = parse_args()
    began = time.monotonic()
    ports = {name: free_port() for name in SERVERS}
    env = bench_env(args)
    print(f"bench/callback.py: gunicorn {args.workers} workers × {args.threads} threads (gthread), "
          f"safe mode, Redis {args.redis_url}, database {args.database_url.split('@')[-1]}; "
          f"load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    ensure_database(args.database_url)
    flush_redis(args.redis_url)
    plates = seed_and_empty(env, seed=True)
    servers: dict[str, subprocess.Popen] = {}
    results: dict = {}
    try:
        log_dir = Path(env["ANJU_INSTANCE_PATH"])
        log_dir.mkdir(parents=True, exist_ok=True)
        for name, (target, _) in SERVERS.items():
            servers[name] = start_gunicorn(target, ports[name], env, args, log_dir / f"{name}.log")
        for name, proc in servers.items():
            wait_ready(ports[name], proc)
        messages = Messages(env, plates)
        fixed_count = int(args.rate * args.fixed_seconds)
        max_count = int(5000 * args.max_seconds)  # more than any of the servers answers in time
        # Warm-up: every worker thread imports, connects and fills its statement cache, and every
        # follower has written to the account once (steady state: their rows exist). The first
        # seconds of a cold start are slower; docs/PERFORMANCE.md gives that figure separately.
        warm = [messages.request() for _ in range(3 * USERS)]
        results["app_cold"] = run_phase("app cold start (warm-up)", max_throughput(
            ports["app"], warm, 16, 30))
        for name in ("peer", "bare"):
            asyncio.run(max_throughput(ports[name], [messages.request(SERVERS[name][1])
                                                     for _ in range(USERS)], 16, 30))
        print(f"fixed rate {args.rate:.0f} msg/s for {args.fixed_seconds:.0f} s:")
        for name, (_, path) in SERVERS.items():
            batch = [messages.request(path) for _ in range(fixed_count)]
            results[f"{name}_fixed"] = run_phase(LABELS[name], fixed_rate(
                ports[name], batch, args.rate, args.fixed_seconds + 5))
        print(f"max throughput, {args.connections} connections, {args.rounds} rounds of "
              f"{args.max_seconds / args.rounds:.1f} s per server, taking turns:")
        rounds: dict[str, list[dict]] = {name: [] for name in SERVERS}
        for turn in range(args.rounds):
            for name, (_, path) in SERVERS.items():
                # Built just before use: the app refuses timestamps older than its 300 s window.
                batch = [messages.request(path) for _ in range(max_count // args.rounds)]
                rounds[name].append(run_phase(f"{LABELS[name]} round {turn + 1}", max_throughput(
                    ports[name], batch, args.connections, args.max_seconds / args.rounds)))
                del batch
        for name in SERVERS:
            results[f"{name}_max"] = median_round(rounds[name])
        results["peak_rss_mb"] = {name: peak_rss_mb(proc) for name, proc in servers.items()}
        handled = count_handled(args.redis_url)
    finally:
        for proc in servers.values():
            stop(proc)
        flush_redis(args.redis_url)
        seed_and_empty(env, seed=False)
    return report(args, results, handled, servers, began)


def report(args, results: dict, handled: int, servers: dict, began: float) -> int:
    app_max = results["app_max"]["msgs_per_s"]
    to_peer = app_max / max(results["peer_max"]["msgs_per_s"], 0.1)
    to_bare = app_max / max(results["bare_max"]["msgs_per_s"], 0.1)
    fixed = results["app_fixed"]
    p99_ok = fixed["p99_ms"] < 20 and fixed["errors"] == 0 and fixed["msgs_per_s"] >= 0.95 * args.rate
    print("peak RSS (VmHWM), MB:")
    for name, rss in results["peak_rss_mb"].items():
        print(f"  {LABELS[name]:<34} master {rss['master']:>6.1f}  workers "
              + " ".join(f"{mb:.1f}" for mb in rss["workers"]))
    print(f"app p99 at {args.rate:.0f} msg/s: {fixed['p99_ms']} ms (target < 20 ms: "
          f"{'met' if p99_ok else 'NOT met'})")
    print(f"app ÷ peer max throughput: {to_peer:.2f} (target ≥ 0.6: "
          f"{'met' if to_peer >= 0.6 else 'NOT met'}); app ÷ bare: {to_bare:.2f}")
    for sample in ERROR_SAMPLES:
        print(f"error sample: {sample}")
    if ERROR_SAMPLES:
        print("server logs: " + ", ".join(str(proc.log_path) for proc in servers.values()))
    print(f"messages the app handled (distinct de-duplication keys in Redis): {handled}")
    load = os.getloadavg()
    summary = {
        "bench": "callback", "quick": args.quick, "rate": args.rate, "workers": args.workers,
        "threads": args.threads, "connections": args.connections,
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_end": [round(x, 2) for x in load]},
        **results, "app_to_peer_max_ratio": round(to_peer, 3),
        "app_to_bare_max_ratio": round(to_bare, 3), "p99_target_met": p99_ok,
        "ratio_target_met": to_peer >= 0.6, "handled_once": handled,
        "elapsed_s": round(time.monotonic() - began, 1),
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
