"""What a run reads besides its own counters: a process's CPU share, and the hub's rate-limit counters.

The generator's CPU is measured by each Locust worker itself, over a window of a few seconds (Locust's
own figure is taken every 10 s and its first reading is always 0, so short runs reported 0 % and the
void-run guard could never fire). The hub's `hub_rate_limited_total` comes from its /metrics, as a
difference from the run's start: the stack's hub is shared and its counters are cumulative.
"""

from __future__ import annotations

import time
import urllib.request
from collections import deque

import psutil
from prometheus_client.parser import text_string_to_metric_families

CPU_WINDOW_S = 5.0
RATE_LIMITED = "hub_rate_limited_total"


class CpuWindow:
    """CPU % of one process over the last `window_s` (a GC pause of a second is not saturation)."""

    def __init__(self, window_s: float = CPU_WINDOW_S) -> None:
        self.window_s = window_s
        self.samples: deque[tuple[float, float]] = deque()

    def add(self, now: float, cpu_s: float) -> float:
        """Record the process's CPU seconds at `now`; the % over the window that ends there."""
        self.samples.append((now, cpu_s))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.window_s:
            self.samples.popleft()
        then, before = self.samples[0]
        return round(100.0 * (cpu_s - before) / (now - then), 1) if now > then else 0.0


class ProcessCpu:
    """This process's CPU % over the window, read with psutil (user + system time)."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.window = CpuWindow()
        self.seconds = 0.0  # user + system seconds so far, as of the last `percent()`
        self.percent()

    def percent(self) -> float:
        times = self.proc.cpu_times()
        self.seconds = times.user + times.system
        return self.window.add(time.monotonic(), self.seconds)


class TreeCpu:
    """CPU seconds used so far by processes and all their children (a hub supervisor and its workers),
    and by the whole machine: read at the edges of a rate step, they give the server's CPU per delivery
    and how busy the box was (a shared box's other work shows as busy time that is not the server's)."""

    def __init__(self, pids: list[int]) -> None:
        self.roots = pids
        self.seen: dict[int, psutil.Process] = {}

    def pids(self) -> list[int]:
        """The trees' processes now."""
        out = []
        for pid in self.roots:
            try:
                root = psutil.Process(pid)
                out += [root.pid, *(p.pid for p in root.children(recursive=True))]
            except psutil.Error:
                continue
        return out

    def server_s(self) -> float:
        """User + system seconds of the trees; children that exited are lost, so read at short intervals."""
        total = 0.0
        for pid in self.roots:
            try:
                root = psutil.Process(pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in procs:
                proc = self.seen.setdefault(proc.pid, proc)
                try:
                    times = proc.cpu_times()
                except psutil.Error:
                    continue
                total += times.user + times.system
        return total

    @staticmethod
    def box_busy_s() -> float:
        """CPU seconds every core of the machine spent not idle (summed over cores)."""
        times = psutil.cpu_times()
        return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def rate_limited(metrics_text: str) -> dict[str, int]:
    """`hub_rate_limited_total` summed over workers, by scope (connection | user)."""
    by_scope: dict[str, int] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == RATE_LIMITED:
                scope = sample.labels.get("scope", "")
                by_scope[scope] = by_scope.get(scope, 0) + int(sample.value)
    return by_scope


def read_metrics(metrics_url: str, timeout_s: float = 3.0) -> str | None:
    """The hub's /metrics text now; None when it does not answer (its figures are then unknown)."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=timeout_s) as resp:
            return str(resp.read().decode())
    except (OSError, ValueError):
        return None


def since(now: dict[str, int] | None, start: dict[str, int] | None) -> dict[str, int] | None:
    """Counts added since `start` (scopes first seen later started at 0)."""
    if now is None or start is None:
        return None
    return {scope: count - start.get(scope, 0) for scope, count in sorted(now.items())}
