"""Several hosts on one machine: network namespaces on one bridge, made and removed by the test itself.

Each host is a namespace with one veth into a bridge that lives in a namespace of its own (the
switch), on 198.18.N.0/24 (RFC 2544's range for benchmarking, used by nothing else here). The test
process joins the segment through one more veth (address .1), so it reaches the hosts and the hosts
reach each other and it, nothing else. `close()` stops what runs in the namespaces, deletes them (a
veth goes with its namespace) and their /etc/netns files, also after a failure; a session that died
before that has its leftovers (same tag) removed by the next one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "spx"
ETC_NETNS = Path("/etc/netns")  # `ip netns exec` bind-mounts /etc/netns/NAME/hosts over /etc/hosts


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def unavailable() -> str | None:
    """Why namespaces cannot be used here (skip reason), or None."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux-only"
    if os.geteuid() != 0:
        return "needs root to create network namespaces (ip netns)"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = f"{PREFIX}probe{os.getpid()}"
    made = ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` fails here: {made.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return None


@dataclass
class Host:
    net: Network
    name: str
    ns: str
    address: str

    def run(self, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        """Start `argv` on this host (its own process group, so close() can stop all of it)."""
        with log.open("ab") as out:
            proc = subprocess.Popen(["ip", "netns", "exec", self.ns, *argv], env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.net.procs.append(proc)
        return proc

    def resolve(self, names: dict[str, list[str]]) -> None:
        """This host's /etc/hosts: a name with several addresses is what Compose's DNS gives a scaled service."""
        folder = ETC_NETNS / self.ns
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["127.0.0.1 localhost"] + [f"{a} {n}" for n, addrs in names.items() for a in addrs]
        (folder / "hosts").write_text("\n".join(lines) + "\n")


@dataclass
class Network:
    tag: str                       # unique per checkout (its test port block)
    octet: int                     # 198.18.<octet>.0/24
    hosts: list[Host] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def switch(self) -> str:
        return f"{PREFIX}{self.tag}-sw"

    @property
    def root_address(self) -> str:
        return f"198.18.{self.octet}.1"

    def open(self) -> Network:
        self.remove_leftovers()
        ip("netns", "add", self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        # the test process's own leg: its end stays here, the other end is a bridge port
        ip("link", "add", "name", f"{PREFIX}{self.tag}", "type", "veth", "peer", "name", "root",
           "netns", self.switch)
        self._bridge("root")
        ip("addr", "add", f"{self.root_address}/24", "dev", f"{PREFIX}{self.tag}")
        ip("link", "set", f"{PREFIX}{self.tag}", "up")
        return self

    def _bridge(self, port: str) -> None:
        ip("-n", self.switch, "link", "set", port, "master", "br0")
        ip("-n", self.switch, "link", "set", port, "up")

    def add(self, name: str) -> Host:
        host = Host(self, name, f"{PREFIX}{self.tag}-{name}", f"198.18.{self.octet}.{10 + len(self.hosts)}")
        port = f"h{len(self.hosts)}"
        ip("netns", "add", host.ns)
        ip("link", "add", "name", "eth0", "netns", host.ns, "type", "veth", "peer", "name", port,
           "netns", self.switch)
        self._bridge(port)
        ip("-n", host.ns, "addr", "add", f"{host.address}/24", "dev", "eth0")
        ip("-n", host.ns, "link", "set", "eth0", "up")
        ip("-n", host.ns, "link", "set", "lo", "up")
        self.hosts.append(host)
        return host

    def ours(self) -> list[str]:
        listed = ip("netns", "list", check=False).stdout.split("\n")
        return [line.split()[0] for line in listed if line.startswith(f"{PREFIX}{self.tag}-")]

    def remove_leftovers(self) -> None:
        """Namespaces of this tag that a killed session left: stop what runs in them, delete them."""
        for ns in self.ours():
            self._delete(ns)
        self._delete_root_leg()

    def _delete(self, ns: str) -> None:
        deadline = time.monotonic() + 10
        while (pids := ip("netns", "pids", ns, check=False).stdout.split()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)  # only processes inside a namespace this test made
            time.sleep(0.05)
        ip("netns", "del", ns, check=False)
        shutil.rmtree(ETC_NETNS / ns, ignore_errors=True)

    def _delete_root_leg(self) -> None:
        """The kernel frees a deleted namespace (and our veth with it) asynchronously: delete our end
        ourselves and wait, so a new switch can take the name at once."""
        name = f"{PREFIX}{self.tag}"
        deadline = time.monotonic() + 10
        while ip("link", "show", name, check=False).returncode == 0 and time.monotonic() < deadline:
            ip("link", "del", name, check=False)
            time.sleep(0.05)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        for ns in self.ours():
            self._delete(ns)
        self._delete_root_leg()
        with contextlib.suppress(OSError):
            ETC_NETNS.rmdir()  # only if empty: other users' namespaces may keep files there


def wait_for_port(address: str, port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=1):
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise RuntimeError(f"nothing listens on {address}:{port} (exit {proc.poll()}); {log}:\n{tail}")
        time.sleep(0.1)
