"""Where one callback message's time goes: the app's WSGI callable under pyinstrument, no HTTP.

    .venv/bin/python bench/profile_callback.py [--quick] [--messages 5000] [--html out.html]
                                               [--database-url URL] [--redis-url URL]

Builds the app exactly as bench/callback.py's servers run it (production settings, safe mode,
MariaDB and Redis), seeds the same door plates, warms every follower up, then feeds the same mix
of encrypted messages straight into `app.wsgi_app` one after another in this process and prints
pyinstrument's call tree, plus the CPU time per message with and without the profiler, and how
many Redis commands and SQL statements each message cost. Database and Redis db are emptied
before and after, as bench/callback.py does.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import callback as bench  # noqa: E402
from bench.common import ensure_database  # noqa: E402


def environ_of(raw: bytes) -> dict:
    """A WSGI environ for one raw HTTP/1.1 request as the load generator sends it."""
    head, _, body = raw.partition(b"\r\n\r\n")
    request_line = head.split(b"\r\n", 1)[0].decode()
    method, target, _ = request_line.split(" ")
    parts = urlsplit(target)
    return {"REQUEST_METHOD": method, "PATH_INFO": parts.path, "QUERY_STRING": parts.query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": "text/xml",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": True,
            "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
            "HTTP_HOST": "127.0.0.1"}


def run(app, environs: list[dict]) -> float:
    """Serve every request; returns CPU seconds per message. Any non-200 stops the run."""
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    started = time.process_time()
    for environ in environs:
        body = app(environ, start_response)
        b"".join(body)
        getattr(body, "close", lambda: None)()
        if not statuses[-1].startswith("200"):
            raise SystemExit(f"callback answered {statuses[-1]}")
    return (time.process_time() - started) / len(environs)


def count_round_trips(app, environs: list[dict]) -> tuple[float, float]:
    """Redis commands and SQL statements per message over these requests."""
    from redis.client import Pipeline, Redis
    from sqlalchemy import event

    from app.extensions import db

    redis_calls, sql_calls = [0], [0]
    real_execute, real_pipe = Redis.execute_command, Pipeline.execute

    def counted(self, *args, **kwargs):
        redis_calls[0] += 1
        return real_execute(self, *args, **kwargs)

    def counted_pipe(self, *args, **kwargs):
        redis_calls[0] += 1  # one round trip for the whole pipeline
        return real_pipe(self, *args, **kwargs)

    def on_sql(*_):
        sql_calls[0] += 1

    Redis.execute_command, Pipeline.execute = counted, counted_pipe
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", on_sql)
    try:
        run(app.wsgi_app, environs)
    finally:
        Redis.execute_command, Pipeline.execute = real_execute, real_pipe
        event.remove(engine, "before_cursor_execute", on_sql)
    return redis_calls[0] / len(environs), sql_calls[0] / len(environs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="1,000 messages (make bench-quick)")
    parser.add_argument("--html", help="also write pyinstrument's HTML report here")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_CALLBACK_DATABASE_URL",
                                                                 bench.DEFAULT_DB))
    parser.add_argument("--redis-url", default=bench.DEFAULT_REDIS)
    args = parser.parse_args()
    if args.quick:
        args.messages = 1000
    from pyinstrument import Profiler

    env = bench.bench_env(args)
    ensure_database(args.database_url)
    bench.flush_redis(args.redis_url)
    plates = bench.seed_and_empty(env, seed=True)
    try:
        from app import create_app

        app = create_app()
        messages = bench.Messages(env, plates)
        warm = [environ_of(messages.request()) for _ in range(3 * bench.USERS)]
        run(app.wsgi_app, warm)
        plain = run(app.wsgi_app, [environ_of(messages.request()) for _ in range(args.messages)])
        redis_per, sql_per = count_round_trips(
            app, [environ_of(messages.request()) for _ in range(1000)])
        profiled = [environ_of(messages.request()) for _ in range(args.messages)]
        profiler = Profiler(interval=0.0002)
        profiler.start()
        with_profiler = run(app.wsgi_app, profiled)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        if args.html:
            Path(args.html).write_text(profiler.output_html())
        print(f"CPU per message: {plain * 1000:.3f} ms (under the profiler {with_profiler * 1000:.3f} ms); "
              f"per message {redis_per:.2f} Redis round trips, {sql_per:.2f} SQL statements")
    finally:
        bench.flush_redis(args.redis_url)
        bench.seed_and_empty(env, seed=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
