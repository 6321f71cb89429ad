"""The scale-out test runs in the suite's MariaDB pass (TEST_DATABASE_URL set) as root, where it
builds its own network namespaces and servers. On the SQLite pass it is skipped; in the MariaDB
pass under CI=true a missing prerequisite fails it instead of skipping it."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

TOOLS = ("ip", "haproxy", "redis-server", "redis-cli", "mariadbd", "mariadb-install-db")


def _install_haproxy() -> None:
    if shutil.which("haproxy") or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                   "apt-get install -y -qq haproxy", shell=True, timeout=300,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


@pytest.fixture(scope="module")
def cluster_prerequisites():
    """Skip on the SQLite pass; elsewhere make sure root, netns and the servers are there."""
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("the scale-out test runs in the MariaDB pass (TEST_DATABASE_URL)")
    from tests.cluster.netns import netns_available

    _install_haproxy()
    problems = [f"{tool} is missing" for tool in TOOLS if not shutil.which(tool)]
    why = netns_available()
    if why:
        problems.append(why)
    if problems:
        message = "scale-out test cannot run: " + "; ".join(problems)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
