"""CPU and memory of the stack's processes, for the TUI's services table (`psutil`, the process tree).

A service is a process tree (nginx's workers, RabbitMQ's beam, the hub's workers): its CPU % and RSS
are summed over the tree. CPU % needs two looks at the same process, so a `Sampler` keeps the
processes it has seen between calls; the first call reports 0.0 for a process it did not know.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Usage:
    cpu_percent: float  # of one core (a tree may use more than 100)
    rss_bytes: int


class Sampler:
    def __init__(self) -> None:
        self._known: dict[int, psutil.Process] = {}

    def sample(self, pids: Iterable[int]) -> dict[int, Usage]:
        """Usage per root pid (children included); a pid that is gone is left out."""
        seen: dict[int, psutil.Process] = {}
        out: dict[int, Usage] = {}
        for pid in pids:
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
            out[pid] = Usage(cpu, rss)
        self._known = seen
        return out
