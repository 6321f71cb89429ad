"""Fixtures for the fault scenarios: private servers and processes, always cleaned up, and the
figures each scenario measured (written to test-artifacts/faults-summary.json as they are
measured, and printed in pytest's terminal summary, with or without -s).

They run in the MariaDB pass only (TEST_DATABASE_URL=mysql…, as tests/run_suite.sh sets it); on
the SQLite pass they skip with that reason. In the MariaDB pass under CI=true a missing server
binary fails them instead of skipping.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.faults.harness import (
    GUNICORN, ROOT, FakeWeChat, PrivateMariaDB, PrivateRedis, Processes, Stack,
)

SUMMARY = ROOT / "test-artifacts" / "faults-summary.json"
_FIGURES: dict[str, dict] = {}
BINARIES = ("redis-server", "mariadbd", "mariadb-install-db")


def _missing_binaries() -> list[str]:
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if not Path(GUNICORN).exists():
        missing.append(GUNICORN)
    return missing


@pytest.fixture(scope="session")
def fault_pass(app):
    """Skip on the SQLite pass; in the MariaDB pass, need the server binaries (CI: must have)."""
    from tests.conftest import database_dialect

    if database_dialect(app) == "sqlite":
        pytest.skip("fault scenarios run in the MariaDB pass only "
                    "(TEST_DATABASE_URL=mysql+pymysql://…, see tests/run_suite.sh)")
    missing = _missing_binaries()
    if missing:
        message = f"fault scenarios need {', '.join(missing)} on PATH"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: not skipped)")
        pytest.skip(message)


@pytest.fixture(scope="session")
def mariadb(fault_pass, tmp_path_factory):
    """One private mariadbd for the whole folder (a scenario may stop and start it)."""
    workdir = tmp_path_factory.mktemp("mariadb")
    procs = Processes(workdir)
    server = PrivateMariaDB(procs, workdir)
    try:
        server.start()
        yield server
    finally:
        procs.stop_all()


@pytest.fixture()
def procs(request, fault_pass, tmp_path):
    """Every process the test starts; each group is killed when the test ends, pass or fail.
    Their logs are kept under test-artifacts/faults/<test>/."""
    started = Processes(tmp_path)
    yield started
    started.stop_all()
    keep = SUMMARY.parent / "faults" / request.node.name[:80]
    shutil.rmtree(keep, ignore_errors=True)
    keep.mkdir(parents=True, exist_ok=True)
    for proc in started.started:
        if proc.name != "redis":
            shutil.copy(proc.log_path, keep / proc.log_path.name)


@pytest.fixture()
def redis_server(procs, tmp_path):
    server = PrivateRedis(procs, tmp_path / "redis")
    server.start()
    return server


@pytest.fixture()
def wechat(fault_pass):
    fake = FakeWeChat()
    yield fake
    fake.close()


@pytest.fixture()
def stack(request, mariadb, redis_server, wechat, procs, tmp_path):
    """A fresh migrated database on the private MariaDB, the shared configuration, and the same
    app in the test process (its context pushed) for seeding and reading the outcome."""
    from flask_migrate import upgrade

    from app.extensions import db

    if mariadb.proc is None:  # a previous scenario's restart failed half-way
        mariadb.start()
    name = "anju_faults_" + request.node.name.split("[")[0][-40:].lower()
    name = "".join(ch if ch.isalnum() else "_" for ch in name)[:60]
    mariadb.recreate(name)
    built = Stack(procs, tmp_path, mariadb.url(name), redis_server.url(), wechat.url)
    application = built.app()
    with application.app_context():
        upgrade()
        db.session.remove()
        built.application = application
        yield built
        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def figures(request):
    """record(**values): the scenario's measured figures, saved at once and shown at the end."""

    def record(**values) -> None:
        entry = _FIGURES.setdefault(request.node.name, {})
        entry.update(values)
        entry["recorded_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        SUMMARY.parent.mkdir(parents=True, exist_ok=True)
        existing = {}
        if SUMMARY.exists():
            try:
                existing = json.loads(SUMMARY.read_text())
            except ValueError:
                existing = {}
        existing.update(_FIGURES)
        SUMMARY.write_text(json.dumps(existing, ensure_ascii=False, indent=2, sort_keys=True))

    return record


def pytest_terminal_summary(terminalreporter):
    if not _FIGURES:
        return
    terminalreporter.section("fault scenarios: measured figures")
    for name, values in _FIGURES.items():
        shown = ", ".join(f"{k}={v}" for k, v in values.items() if k != "recorded_at")
        terminalreporter.write_line(f"{name}: {shown}")
    terminalreporter.write_line(f"(also in {SUMMARY.relative_to(ROOT)})")
