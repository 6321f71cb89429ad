"""deploy/: the image, compose file, systemd units, nginx and gunicorn configs are consistent,
and every role of the entrypoint actually runs here (bounded, on 127.0.0.1, cleaned up)."""
from __future__ import annotations

import datetime
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
PYTHON = sys.executable


def entrypoint_roles() -> set[str]:
    """The roles the entrypoint's `case` dispatches."""
    text = ENTRYPOINT.read_text()
    return set(re.findall(r"^    ([a-z-]+)\)$", text, re.M))


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


# --- compose ---------------------------------------------------------------------------------

APP_SERVICES = {"migrate", "web", "worker", "scheduler"}


def test_entrypoint_knows_every_role():
    assert {"web", "worker", "scheduler", "migrate", "check-web", "ready", "check-worker",
            "check-scheduler"} <= entrypoint_roles()


def test_compose_runs_each_role_from_one_image_and_the_entrypoint_knows_it():
    services = compose()["services"]
    assert APP_SERVICES | {"mariadb", "redis", "nginx"} <= set(services)
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1  # one build
    for name in APP_SERVICES:
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert services[name]["command"][0] in entrypoint_roles(), name
    assert services["worker"]["command"][1:] == ["high", "default", "low"]
    assert services["web"]["deploy"]["replicas"] == 2


def test_compose_healthchecks_use_the_entrypoint_checks_and_restart_policies_are_set():
    services = compose()["services"]
    for name, service in services.items():
        assert service.get("restart"), f"{name} has no restart policy"
        if name == "migrate":
            assert "healthcheck" not in service and service["restart"].startswith("on-failure")
            continue
        test = service["healthcheck"]["test"]
        assert test[0] == ("CMD-SHELL" if name == "nginx" else "CMD"), name
        if name in APP_SERVICES:
            assert test[1] == "/app/deploy/entrypoint.sh" and test[2] in entrypoint_roles()
    assert services["web"]["healthcheck"]["test"][2] == "ready"
    assert services["worker"]["healthcheck"]["test"][2] == "check-worker"
    assert services["scheduler"]["healthcheck"]["test"][2] == "check-scheduler"


def test_compose_starts_web_and_workers_only_after_the_migration_succeeded():
    services = compose()["services"]
    for name in ("web", "worker", "scheduler"):
        assert services[name]["depends_on"]["migrate"]["condition"] == \
            "service_completed_successfully", name
    assert services["migrate"]["depends_on"]["mariadb"]["condition"] == "service_healthy"
    assert services["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"
    for name, service in services.items():
        for target in service.get("depends_on", {}):
            assert target in services, (name, target)


def test_compose_keeps_the_database_and_redis_internal_and_utf8mb4():
    spec = compose()
    services, networks = spec["services"], spec["networks"]
    for name in ("mariadb", "redis"):
        assert "ports" not in services[name]
        assert all(networks[n].get("internal") for n in services[name]["networks"]), name
    assert [name for name, s in services.items() if "ports" in s] == ["nginx"]
    assert "--character-set-server=utf8mb4" in services["mariadb"]["command"]
    assert "charset=utf8mb4" in services["web"]["environment"]["DATABASE_URL"]
    assert services["web"]["environment"]["TRUSTED_PROXIES"] == "1"
    for mount in services["nginx"]["volumes"]:
        source = mount.split(":")[0]
        assert source == "./tls" or (DEPLOY / source).is_file(), source  # tls: the operator's


# --- Dockerfile ------------------------------------------------------------------------------

def test_dockerfile_is_python_slim_non_root_pinned_and_bakes_no_secret():
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "pip install --no-compile -r requirements.txt" in text
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "==" in line, f"unpinned requirement {line}"
    env_keys = re.findall(r"\b([A-Z_]+)=", " ".join(re.findall(r"^ENV (.+?)(?<!\\)$", text,
                                                               re.M | re.S)))
    for key in env_keys:
        assert not re.search(r"SECRET|PASSWORD|TOKEN|_KEY", key), key
    for source in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", text, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path
    assert re.search(r'^ENTRYPOINT \["/app/deploy/entrypoint.sh"\]$', text, re.M)
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*" or "*" in ignored  # everything not listed stays out (.env, .venv)
    assert not any(line.startswith("!.env") or line.startswith("!instance") for line in ignored)


# --- systemd ---------------------------------------------------------------------------------

UNITS = ["anju-web.service", "anju-worker@.service", "anju-scheduler.service",
         "anju-migrate.service", "anju-check.service", "anju-check.timer"]
# systemd < 254 does not know the backoff keys; it ignores them and keeps RestartSec.
_OLD_SYSTEMD = re.compile(r"Unknown key '(RestartSteps|RestartMaxDelaySec)'")


def test_systemd_units_verify(tmp_path):
    for unit in UNITS:  # point the units at this checkout so their ExecStart= exists
        text = (DEPLOY / "systemd" / unit).read_text().replace("/opt/anju", str(ROOT))
        (tmp_path / unit).write_text(text)
    names = [str(tmp_path / u.replace("@.", "@high.")) for u in UNITS]
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *names], capture_output=True,
                          text=True, timeout=120)
    problems = [line for line in (done.stdout + done.stderr).splitlines()
                if line.strip() and not _OLD_SYSTEMD.search(line)]
    assert done.returncode == 0 and not problems, problems
    # "high:default:low.1" is a unit name as it stands (":" and "." need no escaping).
    escaped = subprocess.run(["systemd-escape", "--template", "anju-worker@.service",
                              "high:default:low.1"], capture_output=True, text=True, timeout=30)
    assert escaped.stdout.strip() == "anju-worker@high:default:low.1.service"


def test_long_running_units_always_restart_with_backoff():
    for unit in ("anju-web.service", "anju-worker@.service", "anju-scheduler.service"):
        text = (DEPLOY / "systemd" / unit).read_text()
        assert "Restart=always" in text and "RestartSteps=" in text and \
            "RestartMaxDelaySec=" in text and "StartLimitIntervalSec=0" in text, unit
        role = re.search(r"^ExecStart=/opt/anju/deploy/entrypoint.sh (\S+)", text, re.M).group(1)
        assert role in entrypoint_roles()
    migrate = (DEPLOY / "systemd" / "anju-migrate.service").read_text()
    assert "Type=oneshot" in migrate and "Restart=on-failure" in migrate
    assert "entrypoint.sh migrate" in migrate


# --- nginx -----------------------------------------------------------------------------------

def _self_signed(directory: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "anju.example.gov.cn")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (directory / "anju.example.gov.cn.fullchain.pem").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM))
    (directory / "anju.example.gov.cn.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def nginx_prefix(tmp_path: Path, upstream: str = "nginx-upstream.conf") -> Path:
    """deploy/nginx.conf inside a minimal main config, its /etc/nginx paths moved to tmp_path."""
    (tmp_path / "tls").mkdir()
    (tmp_path / "logs").mkdir()
    _self_signed(tmp_path / "tls")
    site = (DEPLOY / "nginx.conf").read_text()
    site = site.replace("/etc/nginx/anju-upstream.conf", str(tmp_path / "upstream.conf"))
    site = site.replace("/etc/nginx/tls/", f"{tmp_path}/tls/")
    site = site.replace("/var/log/nginx/", f"{tmp_path}/logs/")
    (tmp_path / "site.conf").write_text(site)
    shutil.copy(DEPLOY / upstream, tmp_path / "upstream.conf")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\n"
        f"events {{}}\nhttp {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n")
    return tmp_path


def nginx_binary() -> str:
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    assert os.path.exists(path), "nginx is missing: tests/run_suite.sh installs Debian's nginx"
    return path


def test_nginx_config_is_valid(tmp_path):
    prefix = nginx_prefix(tmp_path)
    done = subprocess.run([nginx_binary(), "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_nginx_overwrites_forwarded_headers_and_blocks_metrics():
    site = (DEPLOY / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in site  # TRUSTED_PROXIES=1
    assert "proxy_set_header X-Request-ID $request_id;" in site
    assert "proxy_request_buffering on;" in site and "proxy_buffering on;" in site
    assert "client_max_body_size 16m;" in site
    assert "location = /metrics { return 404; }" in site
    assert "$request_uri" not in site.split("log_format", 1)[1].split(";", 1)[0]  # no query in logs


# --- gunicorn and the roles, for real ---------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def role_env(tmp_path):
    """A development environment on a temporary SQLite file, for subprocesses."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "REDIS_", "PROMETHEUS_", "GUNICORN_", "TEST_"))}
    env.update({
        "PYTHON": PYTHON, "APP_ENV": "development", "ANJU_INSTANCE_PATH": str(tmp_path / "inst"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/roles.sqlite3", "LOG_FORMAT": "json",
        "PYTHONPATH": str(ROOT),
    })
    redis_url = os.environ.get("TEST_REDIS_URL")
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def run_role(env, *args, timeout=120):
    return subprocess.run(["sh", str(ENTRYPOINT), *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def code_head() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return set(ScriptDirectory.from_config(config).get_heads())


def test_gunicorn_check_config(role_env):
    done = subprocess.run([PYTHON, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                           "--check-config", "wsgi:app"], env=role_env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    config = {}
    exec((DEPLOY / "gunicorn.conf.py").read_text(), config)
    assert config["worker_class"] == "gthread" and config["bind"] == "127.0.0.1:8000"
    assert config["max_requests"] > 0 and config["max_requests_jitter"] > 0
    assert config["timeout"] == 30 and config["accesslog"] is None


def test_unknown_role_is_refused(role_env):
    done = run_role(role_env, "nonsense")
    assert done.returncode == 64 and "usage" in done.stderr


def get(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read().decode(), dict(answer.headers)
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode(), dict(refused.headers)


class running_web:
    """`entrypoint.sh web` on a free loopback port until the block ends (then SIGTERM)."""

    def __init__(self, env, tmp_path):
        self.port = free_port()
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_WORKERS": "2",
                    "GUNICORN_THREADS": "2", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
        self.env.pop("REDIS_URL", None)  # web on the in-process fake: nothing else needed
        self.base = f"http://127.0.0.1:{self.port}"
        self.output = ""

    def __enter__(self):
        self.process = subprocess.Popen(["sh", str(ENTRYPOINT), "web"], env=self.env, cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(self.base + "/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise AssertionError("gunicorn did not start:\n" + self.output)
            time.sleep(0.3)

    def __exit__(self, *exc):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.output = self.process.communicate(timeout=60)[0]
        return False


def test_migrate_then_web_roles_serve_health_and_multiprocess_metrics(role_env, tmp_path):
    done = run_role(role_env, "migrate")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "roles.sqlite3") as conn:
        assert {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")} == code_head()

    with running_web(role_env, tmp_path) as web:
        base, env = web.base, web.env
        assert run_role(env, "check-web").returncode == 0
        assert run_role(env, "ready").returncode == 0
        status, body, headers = get(base + "/readyz", {"X-Request-ID": "role-test-000001"})
        assert status == 200 and '"ok"' in body and headers["X-Request-ID"] == "role-test-000001"
        for _ in range(10):  # spread over both worker processes
            assert get(base + "/healthz")[0] == 200
        status, body, _ = get(base + "/metrics")
        assert status == 200
        healthz = re.search(r'anju_http_requests_total\{endpoint="health.healthz",method="GET",'
                            r'status="200"\} (\S+)', body)
        assert healthz and float(healthz.group(1)) >= 11  # summed over the processes
        assert len(list((tmp_path / "prom").glob("*.db"))) >= 2
    output = web.output
    assert web.process.returncode == 0, output
    assert '"logger": "anju.request"' in output and '"endpoint": "health.readyz"' in output
    import json

    booted = [json.loads(line) for line in output.splitlines() if '"gunicorn.error"' in line]
    assert any(line["msg"].startswith("Listening at") for line in booted), output  # JSON too


def test_nginx_in_front_of_gunicorn_sets_the_request_id_hides_metrics_and_limits_bodies(
        role_env, tmp_path):
    import ssl

    assert run_role(role_env, "migrate").returncode == 0
    with running_web(role_env, tmp_path) as web:
        (tmp_path / "nginx").mkdir()
        prefix = nginx_prefix(tmp_path / "nginx")
        http_port, https_port = free_port(), free_port()
        site = (prefix / "site.conf").read_text()
        site = re.sub(r"^\s*listen \[::\]:.*$", "", site, flags=re.M)
        site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
        (prefix / "site.conf").write_text(site)
        upstream = (prefix / "upstream.conf").read_text().replace("127.0.0.1:8000",
                                                                  f"127.0.0.1:{web.port}")
        (prefix / "upstream.conf").write_text(upstream)
        nginx = subprocess.Popen([nginx_binary(), "-p", str(prefix), "-c",
                                  str(prefix / "nginx.conf"), "-g", "daemon off;"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 start_new_session=True)
        try:
            tls = ssl.create_default_context()
            tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
            https = f"https://127.0.0.1:{https_port}"

            def fetch(url, data=None, headers=None):
                request = urllib.request.Request(url, data=data, headers=headers or {})
                try:
                    with urllib.request.urlopen(request, timeout=10, context=tls) as answer:
                        return answer.status, dict(answer.headers)
                except urllib.error.HTTPError as refused:
                    return refused.code, dict(refused.headers)

            deadline = time.monotonic() + 20
            while True:
                try:
                    status, headers = fetch(https + "/healthz",
                                            headers={"X-Request-ID": "chosen-by-client-01"})
                    break
                except OSError:
                    assert nginx.poll() is None and time.monotonic() < deadline, "nginx down"
                    time.sleep(0.2)
            assert status == 200
            # nginx's own id replaces the client's, and the app hands it back
            assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"]), headers
            assert fetch(https + "/metrics")[0] == 404
            assert fetch(https + "/readyz")[0] == 404
            assert fetch(https + "/console/login")[0] == 200
            too_big = b"x" * (16 * 1024 * 1024 + 1)
            assert fetch(https + "/api/v1/houses", data=too_big,
                         headers={"Content-Type": "application/json"})[0] == 413
            plain = f"http://127.0.0.1:{http_port}"
            assert fetch(plain + "/healthz")[0] == 200  # the load balancer's plain check

            class NoRedirect(urllib.request.HTTPRedirectHandler):
                def redirect_request(self, *args, **kwargs):
                    return None

            try:
                urllib.request.build_opener(NoRedirect).open(plain + "/console/", timeout=5)
                raise AssertionError("plain HTTP served a page")
            except urllib.error.HTTPError as moved:
                assert moved.code == 301 and moved.headers["Location"].startswith("https://")
        finally:
            os.killpg(nginx.pid, signal.SIGTERM)
            nginx.communicate(timeout=30)


def test_worker_and_scheduler_roles_run_bounded(role_env, tmp_path):
    assert run_role(role_env, "migrate").returncode == 0
    if "REDIS_URL" not in role_env:
        # Without Redis (the embedded demo) jobs run inline: both roles say so and exit 0.
        for role in ("worker", "scheduler"):
            done = run_role(role_env, role)
            assert done.returncode == 0 and "REDIS_URL is not set" in done.stdout, role
        return
    import redis

    connection = redis.Redis.from_url(role_env["REDIS_URL"])
    connection.flushdb()
    try:
        scheduler = subprocess.Popen(["sh", str(ENTRYPOINT), "scheduler"], env=role_env, cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while run_role(role_env, "check-scheduler").returncode != 0:
                assert time.monotonic() < deadline and scheduler.poll() is None, "no schedule"
                time.sleep(0.5)
        finally:
            os.killpg(scheduler.pid, signal.SIGTERM)
            output = scheduler.communicate(timeout=30)[0]
        assert scheduler.returncode == 0 and "scheduled relay_outbox" in output
        # The scheduler queued jobs and no worker runs: the worker check says unhealthy.
        check = run_role(role_env, "check-worker")
        assert check.returncode == 1 and "no worker heartbeat" in check.stdout
        done = run_role(role_env, "worker", "high:default:low.1", "--burst")
        assert done.returncode == 0, done.stderr
        assert '"msg": "job finished"' in done.stderr and '"outcome": "done"' in done.stderr
        assert run_role(role_env, "check-worker").returncode == 0  # nothing waits any more
    finally:
        connection.flushdb()


# --- backup restore drill ----------------------------------------------------------------------

def _mariadb_opts(url) -> str:
    return " ".join(filter(None, [f"-h{url.host or '127.0.0.1'}", f"-P{url.port or 3306}",
                                  f"-u{url.username or 'root'}"]))


def test_restore_drill_restores_a_dump_into_a_scratch_database_with_equal_counts(mariadb_only):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(os.environ["TEST_DATABASE_URL"])
    engine = create_engine(url.set(database=""))
    env = {**os.environ, "MARIADB_OPTS": _mariadb_opts(url)}
    if url.password:
        env["MYSQL_PWD"] = url.password
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS anju_drill_src"))
            conn.execute(text("CREATE DATABASE anju_drill_src CHARACTER SET utf8mb4 "
                              "COLLATE utf8mb4_unicode_ci"))
            conn.execute(text("CREATE TABLE anju_drill_src.person (id INT PRIMARY KEY, "
                              "name VARCHAR(64), note TEXT) DEFAULT CHARSET=utf8mb4"))
            conn.execute(text("CREATE TABLE anju_drill_src.alembic_version "
                              "(version_num VARCHAR(32) PRIMARY KEY)"))
            conn.execute(text("INSERT INTO anju_drill_src.alembic_version VALUES ('a78d102ad5e3')"))
            for n in range(50):
                conn.execute(text("INSERT INTO anju_drill_src.person VALUES (:i, :n, :t)"),
                             {"i": n, "n": f"张三{n}", "t": "𠀀 emoji 🏠"})
        done = subprocess.run(["sh", str(DEPLOY / "restore-drill.sh"), "anju_drill_src",
                               "anju_drill_dst"], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert re.search(r"^person\s+rows\s+50 -> 50\s.*ok$", done.stdout, re.M), done.stdout
        assert "tables=2 " in done.stdout and "result=ok" in done.stdout
        with engine.connect() as conn:
            assert conn.execute(text("SELECT note FROM anju_drill_dst.person WHERE id = 7")) \
                .scalar() == "𠀀 emoji 🏠"

        # Never into a database that is not plainly a scratch one (it is dropped).
        refused = subprocess.run(["sh", str(DEPLOY / "restore-drill.sh"), "anju_drill_src",
                                  "anju_test"], env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and "must contain 'drill' or 'scratch'" in refused.stderr
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS anju_drill_src"))
            conn.execute(text("DROP DATABASE IF EXISTS anju_drill_dst"))
        engine.dispose()
