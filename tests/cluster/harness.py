"""Processes of the scale-out test, each started inside one namespace of a `Network`, in its own
process group, logging to a file, and stopped (group SIGTERM, then SIGKILL) when the test ends.

Servers listen on their namespace's private address; MariaDB and Redis also listen on a Unix
socket in the test's directory, which is how the test itself inspects them from outside.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


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

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict | None = None):
        self.name, self.argv, self.log_path = name, argv, log_path
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the whole group: the host is gone, nothing shuts down cleanly."""
        self.signal_group(signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def stop(self, timeout: float = 10) -> None:
        if self.alive():
            self.signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        if not self.log.closed:
            self.log.close()

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")


class Cluster:
    """Everything the test started, on one Network."""

    def __init__(self, net, workdir: Path):
        self.net, self.workdir = net, workdir
        self.started: list[Process] = []
        self.report: dict = {}  # what the test measured, printed at the end even on failure

    def start(self, host: str, name: str, argv: list[str], env: dict | None = None) -> Process:
        log = self.workdir / f"{name}.log"
        proc = Process(name, [*self.net.prefix(host), *argv], log, env=env)
        self.started.append(proc)
        return proc

    def run(self, host: str, argv: list[str], env: dict | None = None, timeout: float = 120,
            check: bool = True) -> subprocess.CompletedProcess:
        """Run a command to completion inside a host's namespace."""
        result = subprocess.run([*self.net.prefix(host), *argv], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{argv[:3]} on {host} failed ({result.returncode}):\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop(timeout=5)

    def logs(self, limit: int = 4000) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.output()[-limit:]}" for p in self.started)


# -- MariaDB ---------------------------------------------------------------------------------

class MariaDB:
    """A private mariadbd with its own datadir (mariadb-install-db), binlog and GTIDs."""

    def __init__(self, cluster: Cluster, host: str, server_id: int):
        self.cluster, self.host, self.server_id = cluster, host, server_id
        self.dir = cluster.workdir / f"mariadb-{host}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket = str(self.dir / "mysqld.sock")
        self.address = cluster.net.hosts[host]
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.dir / 'data'}",
                        "--user=root", "--auth-root-authentication-method=normal",
                        "--skip-test-db"], check=True, timeout=180,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def start(self) -> None:
        self.proc = self.cluster.start(self.host, f"mariadbd-{self.host}", [
            "mariadbd", "--no-defaults", f"--datadir={self.dir / 'data'}", "--user=root",
            "--port=3306", f"--bind-address={self.address}", f"--socket={self.socket}",
            f"--pid-file={self.dir / 'mysqld.pid'}", f"--server-id={self.server_id}",
            f"--log-bin={self.dir / 'data' / 'binlog'}", "--binlog-format=ROW",
            "--log-slave-updates", "--skip-name-resolve", "--skip-performance-schema",
            "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=48M",
            "--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0",
            "--max-connections=300", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci", f"--log-error={self.dir / 'error.log'}"])
        wait_for(self._reachable, 90, f"mariadbd on {self.host}")

    def _reachable(self) -> bool:
        import pymysql

        try:
            pymysql.connect(unix_socket=self.socket, user="root", connect_timeout=1).close()
            return True
        except pymysql.err.MySQLError:
            return False

    def sql(self, *statements: str, database: str | None = None) -> list:
        """Run statements as root over the Unix socket; the rows of the last one."""
        import pymysql

        conn = pymysql.connect(unix_socket=self.socket, user="root", database=database,
                               autocommit=True, connect_timeout=5)
        try:
            with conn.cursor() as cur:
                rows = []
                for statement in statements:
                    cur.execute(statement)
                    rows = list(cur.fetchall())
                return rows
        finally:
            conn.close()

    def socket_url(self, database: str) -> str:
        return (f"mysql+pymysql://root@localhost/{database}?unix_socket={self.socket}"
                "&charset=utf8mb4")


def start_replication(primary: MariaDB, replica: MariaDB, password: str) -> None:
    """GTID replication primary → replica from the primary's first binlog."""
    primary.sql(f"CREATE USER 'repl'@'10.%' IDENTIFIED BY '{password}'",
                "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'10.%'")
    replica.sql(f"CHANGE MASTER TO MASTER_HOST='{primary.address}', MASTER_PORT=3306, "
                f"MASTER_USER='repl', MASTER_PASSWORD='{password}', MASTER_USE_GTID=slave_pos, "
                "MASTER_CONNECT_RETRY=1",
                "START SLAVE")

    def running():
        rows = replica.sql("SHOW ALL SLAVES STATUS")
        return rows and "Waiting" in str(rows[0])

    wait_for(running, 30, "replication to start")


# -- Redis and Sentinel ---------------------------------------------------------------------

class Redis:
    """A private redis-server (master or replica of another), also on a Unix socket."""

    def __init__(self, cluster: Cluster, host: str, replica_of: str | None = None):
        self.cluster, self.host = cluster, host
        self.address = cluster.net.hosts[host]
        self.dir = cluster.workdir / f"redis-{host}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket = str(self.dir / "redis.sock")
        argv = ["redis-server", "--port", "6379", "--bind", self.address, "--unixsocket",
                self.socket, "--dir", str(self.dir), "--save", "", "--appendonly", "yes",
                "--appendfsync", "everysec", "--protected-mode", "no", "--daemonize", "no"]
        if replica_of:
            argv += ["--replicaof", replica_of, "6379"]
        self.proc = cluster.start(host, f"redis-{host}", argv)
        wait_for(self.ping, 20, f"redis-server on {host}")

    def client(self):
        import redis

        return redis.Redis(unix_socket_path=self.socket, socket_timeout=3)

    def ping(self) -> bool:
        try:
            return bool(self.client().ping())
        except Exception:  # noqa: BLE001 - not up yet
            return False


class Sentinel:
    """One redis-sentinel process watching master `anju`, on the host's address port 26379."""

    def __init__(self, cluster: Cluster, host: str, master: str, quorum: int = 2):
        self.cluster, self.host = cluster, host
        self.address = cluster.net.hosts[host]
        conf = cluster.workdir / f"sentinel-{host}.conf"
        conf.write_text(
            f"port 26379\nbind {self.address}\nprotected-mode no\ndaemonize no\n"
            f"dir {cluster.workdir}\n"
            f"sentinel monitor anju {master} 6379 {quorum}\n"
            "sentinel down-after-milliseconds anju 2000\n"
            "sentinel failover-timeout anju 10000\n"
            "sentinel parallel-syncs anju 1\n")
        self.proc = cluster.start(host, f"sentinel-{host}", ["redis-server", str(conf),
                                                             "--sentinel"])

    def command(self, *args: str, check: bool = True) -> str:
        return self.cluster.run(self.host, ["redis-cli", "-h", self.address, "-p", "26379",
                                            *args], timeout=15, check=check).stdout.strip()


# -- haproxy ---------------------------------------------------------------------------------

HAPROXY_CONF = """\
global
    maxconn 2000
    stats socket {stats} mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 2
    option redispatch
frontend anju
    bind {address}:80
    default_backend web
backend web
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 500ms fastinter 300ms downinter 1s fall 2 rise 2
    http-response set-header X-Anju-Backend %s
{servers}
"""


class HAProxy:
    def __init__(self, cluster: Cluster, host: str, servers: dict[str, str]):
        self.cluster = cluster
        self.stats = str(cluster.workdir / "haproxy.stats")
        conf = cluster.workdir / "haproxy.cfg"
        lines = "\n".join(f"    server {name} {addr}:8000 check" for name, addr in servers.items())
        conf.write_text(HAPROXY_CONF.format(stats=self.stats, address=cluster.net.hosts[host],
                                            servers=lines))
        self.proc = cluster.start(host, "haproxy", ["haproxy", "-db", "-f", str(conf)])
        wait_for(lambda: os.path.exists(self.stats), 20, "haproxy's stats socket")

    def server_status(self) -> dict[str, str]:
        """{server: UP/DOWN/...} from the stats socket."""
        import socket as _socket

        with _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM) as sock:
            sock.settimeout(3)
            sock.connect(self.stats)
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        rows = data.decode().splitlines()
        header = rows[0].lstrip("# ").split(",")
        status = {}
        for row in rows[1:]:
            values = dict(zip(header, row.split(",")))
            if values.get("pxname") == "web" and values.get("svname") not in ("BACKEND",
                                                                             "FRONTEND"):
                status[values["svname"]] = values.get("status", "")
        return status


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
