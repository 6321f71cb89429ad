"""What every bench needs: its own database, its own Redis, an app with throw-away keys."""
from __future__ import annotations

import atexit
import os
import re
import signal
import socket
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ensure_database(url: str, *, require_mysql: bool = False) -> None:
    """Create the bench database when the URL is MySQL/MariaDB; never touch any other database."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() not in ("mysql", "mariadb"):
        if require_mysql:
            raise SystemExit("this bench measures MariaDB/MySQL; give a mysql+pymysql:// URL")
        return
    name = parsed.database
    if not name or not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SystemExit(f"refusing database name {name!r}")
    engine = create_engine(parsed.set(database=""))
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}` "
                          "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    engine.dispose()


def start_redis() -> str:
    """A private redis-server on a free port, stopped when the bench exits."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--daemonize", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop():
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()

    atexit.register(stop)
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0"


def make_app(url: str, redis_url: str | None = None):
    """The app on the bench database, with fresh keys and an instance folder outside the checkout."""
    from app import create_app
    from app.crypto import generate_key

    if not os.environ.get("ANJU_INSTANCE_PATH"):
        instance = tempfile.mkdtemp(prefix="anju-bench-")
        atexit.register(shutil.rmtree, instance, ignore_errors=True)
        os.environ["ANJU_INSTANCE_PATH"] = instance
    return create_app({
        "SQLALCHEMY_DATABASE_URI": url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": generate_key(),
        "FIELD_ENCRYPTION_KEYS": "bench:" + generate_key(),
        "FIELD_ENCRYPTION_ACTIVE_KEY_ID": "bench",
        "BLIND_INDEX_KEY": generate_key(),
    })


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(target: str, port: int, env: dict, log_path: Path,
                   extra: list[str] | None = None) -> subprocess.Popen:
    """gunicorn serving target on 127.0.0.1:port in its own process group; stop() ends it."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    gunicorn = str(gunicorn) if gunicorn.exists() else (shutil.which("gunicorn") or "gunicorn")
    command = [gunicorn, "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
               *(extra or []), target]
    # Logs go to a file: an unread pipe fills up and then blocks every worker that logs.
    log = open(log_path, "wb")  # noqa: SIM115 - closed when the process is stopped
    proc = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=log)
    proc.log_path = log_path
    proc.log_file = log
    return proc


def wait_ready(port: int, proc: subprocess.Popen, seconds: float = 30) -> None:
    """Wait until /healthz answers 200; raise with the server's log if it died or never did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn on {port} exited: {Path(proc.log_path).read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn on {port} not ready after {seconds} s")


def stop(proc: subprocess.Popen) -> None:
    """End the server's process group (master and workers), politely first."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    proc.log_file.close()
