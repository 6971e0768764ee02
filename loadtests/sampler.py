"""Evidence beside Locust's own view, every 10 s: established sockets to the target port (`ss`), the
hub's own connection gauge and frames shed, and CPU / RSS / open files of the server (hub or
baseline) and of the Locust processes.

"Held" means the three counts agree; a busy Locust worker or hub process shows up here first. On a
shared box CPU % alone hides starvation, so each process's run-queue wait (`/proc/PID/schedstat`,
time runnable but not running) is sampled too: a generator that waits for CPU measures its own delay.
The server is the hub tree the run started, or the stack's hub workers when they run on this machine.
A last row is written when the run stops, so a run shorter than the period has figures too.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

from .stalls import run_delay_ns

EVERY_S = 10.0
FIRST_S = 2.0  # the first row comes early, so a short run has figures while its generators run
GAUGE = re.compile(r'^(hub_connections|hub_frames_shed_total)\{[^}]*\} ([0-9.e+]+)$', re.M)
COLUMNS = ("elapsed_s", "established", "hub_connections", "hub_frames_shed", "server_cpu", "server_rss_mb",
           "server_max_fds", "server_wait", "locust_cpu", "locust_max_cpu", "locust_rss_mb", "locust_max_fds",
           "locust_max_wait", "load1")


def established(port: int) -> int:
    """Client-side established sockets to `port` (both ends are on this host; count one side)."""
    if sys.platform.startswith("linux") and shutil.which("ss"):
        out = subprocess.run(["ss", "-Htn", "state", "established", f"( dport = :{port} )"],
                             capture_output=True, text=True, timeout=20).stdout
        return out.count("\n")
    return sum(1 for c in psutil.net_connections("tcp")  # elsewhere: psutil's slower walk
               if c.status == psutil.CONN_ESTABLISHED and c.raddr and c.raddr.port == port)


def peaks(samples: Path) -> dict[str, float]:
    """The highest value of each column of samples.csv (empty when there is none)."""
    if not samples.exists():
        return {}
    with samples.open() as f:
        rows = list(csv.DictReader(f))
    return {k: max(float(r[k]) for r in rows if r.get(k) not in (None, "")) for k in COLUMNS[1:]
            if any(r.get(k) not in (None, "") for r in rows)}


def hub_gauges(metrics_url: str) -> tuple[float, float]:
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return (-1.0, -1.0)
    sums = {"hub_connections": 0.0, "hub_frames_shed_total": 0.0}
    for name, value in GAUGE.findall(text):
        sums[name] += float(value)
    return sums["hub_connections"], sums["hub_frames_shed_total"]


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _usage(procs: list[psutil.Process]) -> tuple[list[float], float, int]:
    cpus, rss, fds = [], 0.0, 0
    for p in procs:
        try:
            cpus.append(p.cpu_percent(None))
            rss += p.memory_info().rss / 2**20
            fds = max(fds, p.num_fds() if hasattr(p, "num_fds") else p.num_handles())  # type: ignore[attr-defined]
        except psutil.Error:
            continue
    return cpus, rss, fds


class Sampler(threading.Thread):
    def __init__(self, out: Path, port: int, metrics_url: str, server_pids: list[int],
                 locust_pids: list[int]) -> None:
        super().__init__(daemon=True, name="load-sampler")
        self.out, self.port, self.metrics_url = out, port, metrics_url
        self.server_pids, self.locust_pids = server_pids, locust_pids
        self.stop_event = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        with self.out.open("w") as f:
            f.write(",".join(COLUMNS) + "\n")
            hub = [p for pid in self.server_pids for p in _tree(pid)]
            locusts = [p for pid in self.locust_pids for p in _tree(pid)]
            _usage(hub + locusts)  # prime cpu_percent
            delays = {p.pid: run_delay_ns(p.pid) for p in hub + locusts}
            last = time.monotonic()
            stopping, period = False, FIRST_S
            while not stopping:
                stopping, period = self.stop_event.wait(period), EVERY_S
                now = time.monotonic()
                if now - last < 0.5:
                    break  # stopped right after a row: nothing new to say
                waits = {pid: (run_delay_ns(pid) - before) / 1e9 / (now - last) * 100
                         for pid, before in delays.items()}
                delays = {pid: run_delay_ns(pid) for pid in delays}
                last = now
                conns, shed = hub_gauges(self.metrics_url) if self.metrics_url else (-1.0, -1.0)
                hub_cpu, hub_rss, hub_fds = _usage(hub)
                lc_cpu, lc_rss, lc_fds = _usage(locusts)
                hub_wait = max((waits[p.pid] for p in hub), default=0.0)
                lc_wait = max((waits[p.pid] for p in locusts), default=0.0)
                row = (f"{now - started:.0f}", established(self.port), int(conns), int(shed),
                       f"{sum(hub_cpu):.0f}", f"{hub_rss:.0f}", hub_fds, f"{hub_wait:.0f}", f"{sum(lc_cpu):.0f}",
                       f"{max(lc_cpu, default=0):.0f}", f"{lc_rss:.0f}", lc_fds, f"{lc_wait:.0f}",
                       f"{psutil.getloadavg()[0]:.1f}")
                f.write(",".join(str(v) for v in row) + "\n")
                f.flush()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=30)
