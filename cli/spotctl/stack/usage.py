"""CPU and memory of the stack's processes (`psutil`, the process tree): `spotctl stats` and the TUI's
services table, through the local runtime's `usage()`.

A service is a process tree (nginx's workers, RabbitMQ's beam, the hub's workers): its CPU % and RSS
are summed over the tree. CPU % needs two looks at the same process, so a `Sampler` keeps the
processes it has seen between calls; the first call reports 0.0 for a process it did not know.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Usage:
    cpu_percent: float  # of one core (a tree may use more than 100)
    rss_bytes: int

    def as_json(self) -> dict[str, object]:
        return {"cpu_percent": round(self.cpu_percent, 1), "rss_bytes": self.rss_bytes}


class Sampler:
    def __init__(self) -> None:
        self._known: dict[int, psutil.Process] = {}

    def sample(self, roots: Mapping[str, int], interval: float = 0.0) -> dict[str, Usage]:
        """Usage per service, from its root pid (children included); a pid that is gone is left out.
        CPU % is over `interval` seconds, or since the previous call when 0."""
        if interval > 0:
            if not self._look(roots):
                return {}  # nothing runs: nothing to wait for
            time.sleep(interval)
        return self._look(roots)

    def _look(self, roots: Mapping[str, int]) -> dict[str, Usage]:
        seen: dict[int, psutil.Process] = {}
        out: dict[str, Usage] = {}
        for name, pid in roots.items():
            try:
                root = self._known.get(pid) or psutil.Process(pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            cpu, rss = 0.0, 0
            for proc in tree:
                proc = self._known.get(proc.pid, proc)
                try:
                    cpu += proc.cpu_percent(None)
                    rss += proc.memory_info().rss
                except psutil.Error:
                    continue
                seen[proc.pid] = proc
            out[name] = Usage(cpu, rss)
        self._known = seen
        return out
