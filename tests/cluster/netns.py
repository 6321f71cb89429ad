"""A private network of Linux network namespaces: one namespace per host, each with a veth pair
into a bridge that lives in its own "switch" namespace. Addresses are 10.231.<n>.x, made here and
existing only inside these namespaces; the host's own network is never touched. `teardown()` kills
every process still inside the namespaces it made and deletes them.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=20)


def netns_available() -> str | None:
    """None when network namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "not root"
    name = f"anjuprobe{os.getpid()}"
    try:
        _ip("netns", "add", name)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"ip netns add failed: {getattr(exc, 'stderr', '') or exc}"
    _ip("netns", "del", name, check=False)
    return None


class Network:
    """Hosts on one private bridge; `prefix(host)` is the argv prefix that runs a command there."""

    def __init__(self, tag: str, subnet: int = 231, third: int | None = None):
        self.tag = tag  # short, unique per run: names of namespaces and links derive from it
        self.third = third if third is not None else os.getpid() % 200 + 20
        self.subnet = subnet
        self.namespaces: list[str] = []
        self.hosts: dict[str, str] = {}  # host -> address
        self.switch = self._netns("sw")
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        _ip("-n", self.switch, "link", "set", "lo", "up")

    def _netns(self, short: str) -> str:
        name = f"{self.tag}-{short}"
        _ip("netns", "add", name)
        self.namespaces.append(name)
        return name

    def address(self, host_number: int) -> str:
        return f"10.{self.subnet}.{self.third}.{host_number}"

    def add_host(self, short: str, host_number: int) -> str:
        """A namespace with lo up and one address on the bridge; returns the address."""
        ns = self._netns(short)
        ip = self.address(host_number)
        inner, outer = f"v{host_number}i", f"v{host_number}o"
        _ip("-n", self.switch, "link", "add", outer, "type", "veth", "peer", "name", inner,
            "netns", ns)
        _ip("-n", self.switch, "link", "set", outer, "master", "br0")
        _ip("-n", self.switch, "link", "set", outer, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "addr", "add", f"{ip}/24", "dev", inner)
        _ip("-n", ns, "link", "set", inner, "up")
        self.hosts[short] = ip
        return ip

    def ns(self, short: str) -> str:
        return f"{self.tag}-{short}"

    def prefix(self, short: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns(short)]

    def pids(self) -> list[int]:
        found = []
        for ns in self.namespaces:
            out = _ip("netns", "pids", ns, check=False).stdout
            found.extend(int(p) for p in out.split() if p.isdigit())
        return found

    def teardown(self) -> None:
        """SIGKILL whatever still runs inside these namespaces, then delete them."""
        for _ in range(3):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        for ns in reversed(self.namespaces):
            _ip("netns", "del", ns, check=False)
        self.namespaces.clear()
