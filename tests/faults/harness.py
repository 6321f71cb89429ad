"""Real processes for the fault scenarios: a private redis-server and mariadbd, gunicorn serving
the app, RQ workers and schedulers (`python -m workers`), and a fake WeChat API that counts every
push it receives. Every process runs in its own process group, is bounded in time, and is killed
with its whole group when the test ends (see `Processes`).

Nothing here touches the shared servers (MariaDB on 3306, Redis on 6379): ports are free ports,
data directories and sockets live in the test's tmp_path.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Process:
    """One child in its own session (process group), logging to a file."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict | None = None,
                 cwd: Path = ROOT):
        self.name, self.argv, self.log_path = name, argv, log_path
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the whole group (the worker, its work-horse, RQ's scheduler process)."""
        self.signal_group(signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the group, then SIGKILL whatever is left after `timeout` seconds."""
        if self.alive():
            self.signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)  # stragglers of the group, even if the leader is gone
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        if not self.log.closed:
            self.log.close()

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")


class Processes:
    """Everything a test started; `stop_all()` (the fixture's finalizer) ends every group."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.started: list[Process] = []

    def start(self, name: str, argv: list[str], env: dict | None = None) -> Process:
        log = self.workdir / f"{name}-{len(self.started)}.log"
        proc = Process(name, argv, log, env=env)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        if os.environ.get("FAULTS_DUMP_STACKS"):  # debugging a hang: where is every worker?
            for proc in self.started:
                if proc.name in ("worker", "scheduler") and proc.alive():
                    os.kill(proc.pid, signal.SIGABRT)
            time.sleep(1)
        for proc in reversed(self.started):
            proc.stop(timeout=5)


# -- servers -------------------------------------------------------------------------------------

class PrivateRedis:
    """A redis-server of our own (free port, own directory). It persists every write (AOF,
    fsync always) like a production Redis, so a stop is an outage, not a data loss."""

    def __init__(self, procs: Processes, workdir: Path):
        self.procs, self.workdir = procs, workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: Process | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        import redis

        self.proc = self.procs.start("redis", [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir),
            "--daemonize", "no", "--protected-mode", "no"])
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_for(lambda: _ping(client), 15, "the private redis-server")

    def kill(self) -> None:
        """Redis goes away at once (a crash, a partition): nothing is shut down cleanly."""
        if self.proc is not None:
            self.proc.kill()
            self.proc = None


def _ping(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - not up yet
        return False


class PrivateMariaDB:
    """A mariadbd of our own: a data directory made by mariadb-install-db, its own port and
    socket, root without a password on 127.0.0.1 only. Stop and start it at will."""

    def __init__(self, procs: Processes, workdir: Path):
        self.procs, self.workdir = procs, workdir
        self.datadir = workdir / "data"
        self.port = free_port()
        self.socket = workdir / "mariadb.sock"
        self.proc: Process | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}",
                        "--user=root", "--auth-root-authentication-method=normal",
                        "--skip-test-db"], check=True, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def url(self, database: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    def start(self) -> None:
        self.proc = self.procs.start("mariadbd", [
            "mariadbd", "--no-defaults", f"--datadir={self.datadir}", "--user=root",
            f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.socket}",
            f"--pid-file={self.workdir / 'mariadb.pid'}", "--skip-log-bin",
            "--skip-performance-schema", "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=48M", "--max-connections=300",
            "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
            f"--log-error={self.workdir / 'mariadb.err'}"])
        wait_for(self.reachable, 60, "the private mariadbd")

    def reachable(self) -> bool:
        import pymysql

        try:
            pymysql.connect(host="127.0.0.1", port=self.port, user="root",
                            connect_timeout=1).close()
            return True
        except pymysql.err.MySQLError:
            return False

    def stop(self) -> None:
        """A clean shutdown (as a restart for maintenance or a failover does)."""
        if self.proc is not None:
            self.proc.stop(timeout=60)
            self.proc = None

    def recreate(self, database: str) -> None:
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root")
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
                cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 "
                            "COLLATE utf8mb4_unicode_ci")
        finally:
            conn.close()


class FakeWeChat:
    """WeChat's API as far as pushes go: hands out a token and records every template and
    subscribe message it is sent, answering each with a new msgid."""

    def __init__(self, delay: float = 0.0):
        self.sent: list[dict] = []
        self.lock = threading.Lock()
        self.delay = delay  # seconds before answering a send (it is recorded on arrival)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):  # noqa: N802 - http.server's naming
                if self.path.startswith("/cgi-bin/token"):
                    return self._answer({"access_token": "fake-token-" + "x" * 20,
                                         "expires_in": 7200})
                return self._answer({"errcode": 40001, "errmsg": "unknown"})

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.startswith(("/cgi-bin/message/template/send",
                                         "/cgi-bin/message/subscribe/send")):
                    with fake.lock:
                        fake.sent.append(body)
                        msgid = 3_000_000_000 + len(fake.sent)
                    time.sleep(fake.delay)
                    return self._answer({"errcode": 0, "errmsg": "ok", "msgid": msgid})
                if self.path.startswith("/cgi-bin/stable_token"):
                    return self._answer({"access_token": "fake-token-" + "x" * 20,
                                         "expires_in": 7200})
                return self._answer({"errcode": 40001, "errmsg": "unknown"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def pushes_for(self, receipt_code: str) -> int:
        """How many pushes mention this receipt code (each names the declaration's receipt)."""
        with self.lock:
            return sum(1 for body in self.sent if receipt_code in json.dumps(body, ensure_ascii=False))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the app's processes -------------------------------------------------------------------------

def app_keys() -> dict:
    return {
        "SECRET_KEY": secrets.token_urlsafe(32),
        "FIELD_ENCRYPTION_KEYS": "f1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "FIELD_ENCRYPTION_ACTIVE_KEY_ID": "f1",
        "BLIND_INDEX_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "WECHAT_APP_ID": "wxfaults000000001", "WECHAT_APP_SECRET": secrets.token_hex(16),
        "WECHAT_TOKEN": secrets.token_hex(8),
        "WECHAT_ENCODING_AES_KEY": base64.b64encode(secrets.token_bytes(32)).decode()[:43],
        "WECHAT_MINIAPP_ID": "wxfaultsmini00001", "WECHAT_MINIAPP_SECRET": secrets.token_hex(16),
        "WECHAT_NOTICE_TEMPLATE_ID": "faults-notice", "WECHAT_MINIAPP_NOTICE_TEMPLATE_ID":
            "faults-mini-notice",
    }


class Stack:
    """The configuration every process of one scenario shares, and how to start each of them."""

    def __init__(self, procs: Processes, workdir: Path, database_url: str, redis_url: str,
                 wechat_url: str):
        self.procs, self.workdir = procs, workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.keys = app_keys()
        self.config = {
            "APP_ENV": "testing", "WECHAT_SANDBOX": False, "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url, "WECHAT_API_BASE_URL": wechat_url,
            "PUBLIC_BASE_URL": self.base_url, "WECHAT_MESSAGE_MODE": "safe",
            # Reminders may go out at any hour of the test run.
            "REMINDER_QUIET_START": "00:00", "REMINDER_QUIET_END": "00:00", **self.keys,
        }
        instance = workdir / "instance"
        instance.mkdir(parents=True, exist_ok=True)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "PYTEST"))},
            "PYTHONPATH": str(ROOT), "ANJU_INSTANCE_PATH": str(instance),
            "APP_ENV": "testing", "WECHAT_SANDBOX": "0", "DATABASE_URL": database_url,
            "REDIS_URL": redis_url, "WECHAT_API_BASE_URL": wechat_url,
            "PUBLIC_BASE_URL": self.base_url, "WECHAT_MESSAGE_MODE": "safe",
            "REMINDER_QUIET_START": "00:00", "REMINDER_QUIET_END": "00:00",
            # A hung process can be asked where it is: SIGABRT dumps every thread's stack.
            "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1", **self.keys,
        }
        self.workers: list[Process] = []

    def app(self):
        """The same app in the test process, for seeding and for reading the outcome."""
        from app import create_app

        os.environ.setdefault("ANJU_INSTANCE_PATH", self.env["ANJU_INSTANCE_PATH"])
        return create_app(dict(self.config, TESTING=True))

    def start_web(self, workers: int = 2, threads: int = 4) -> Process:
        web = self.procs.start("gunicorn", [
            GUNICORN, "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
            "--worker-class", "gthread", "--threads", str(threads), "--timeout", "60",
            "--graceful-timeout", "5", "--log-level", "warning", "wsgi:app"], env=self.env)
        wait_for(lambda: self._healthy(web), 60, "gunicorn to serve /healthz")
        return web

    def _healthy(self, web: Process) -> bool:
        if not web.alive():
            raise AssertionError(f"gunicorn exited:\n{web.output()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def start_worker(self, *args: str) -> Process:
        worker = self.procs.start("worker", [sys.executable, "-m", "workers", *args], env=self.env)
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, count: int, timeout: float = 60) -> None:
        """Until `count` RQ workers have registered with Redis (they are ready for jobs)."""
        import redis
        from rq import Worker

        connection = redis.Redis.from_url(self.config["REDIS_URL"])

        def registered():
            for worker in self.workers:
                if not worker.alive():
                    raise AssertionError(f"a worker exited:\n{worker.output()[-3000:]}")
            return len(Worker.all(connection=connection)) >= count

        wait_for(registered, timeout, f"{count} RQ worker(s) to register")

    def start_scheduler(self) -> Process:
        return self.procs.start("scheduler", [sys.executable, "-m", "workers", "--scheduler"],
                                env=self.env)
