"""Where a delivery waits while the box has CPU to spare: pauses in the generator and in the hub.

A probe's latency runs from the publisher's scheduled send time to the probe's reader, so a stall
anywhere on that path counts: a garbage collection or a long callback in a Locust worker (the
publisher or the reader did not run), the same in a hub worker, or a process that was runnable but
waited for a CPU (its run-queue wait, `/proc/PID/schedstat`). Each Locust worker measures its own
(`Stalls`, shipped with every report); the master reads the hub's `hub_gc_pause_seconds` and
`hub_loop_lag_seconds` from its /metrics and the hub processes' run-queue wait at each rate step's
edges (`ServerEdge`), and `StepStalls` turns both into each step's figures in summary.json.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from prometheus_client.parser import text_string_to_metric_families

from spotctl_sandbox.common.pauses import LAG_EVERY_S, GcPauses, Tally, lateness

LONG_S = 0.02  # a pause this long or longer is "long": it alone can put a delivery over a 50 ms target


def run_delay_ns(pid: int) -> int:
    """Nanoseconds `pid` has spent runnable but not running (0 when unknown: not Linux, or gone)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


class Stalls:
    """This Locust worker's collections and gevent-loop lag (a greenlet waking every 50 ms)."""

    def __init__(self) -> None:
        self.gc, self.lag = Tally(LONG_S), Tally(LONG_S)
        self.watch = GcPauses(lambda _generation, seconds: self.gc.add(seconds))
        self.greenlet: gevent.Greenlet | None = None

    def start(self) -> Stalls:
        self.watch.install()
        self.greenlet = gevent.spawn(self._lag_loop)
        return self

    def _lag_loop(self) -> None:
        while True:
            due = time.monotonic() + LAG_EVERY_S
            gevent.sleep(LAG_EVERY_S)
            self.lag.add(lateness(due, time.monotonic()))

    def figures(self) -> dict[str, float]:
        """Cumulative pause seconds and long pauses, the longest since the last call, run-queue wait."""
        return {"gc_s": self.gc.seconds, "gc_long": self.gc.long, "gc_max_ms": 1000 * self.gc.take_max(),
                "lag_s": self.lag.seconds, "lag_long": self.lag.long, "lag_max_ms": 1000 * self.lag.take_max(),
                "wait_s": run_delay_ns(os.getpid()) / 1e9}


@dataclass
class HubPauses:
    """One of the hub's pause histograms, summed over its workers (cumulative)."""

    seconds: float = 0.0
    count: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound (s) -> observations <= it

    def since(self, before: HubPauses) -> HubPauses:
        return HubPauses(self.seconds - before.seconds, self.count - before.count,
                         {le: n - before.buckets.get(le, 0.0) for le, n in self.buckets.items()})

    def over(self, bound_s: float) -> int:
        """Observations longer than `bound_s` (a bucket bound)."""
        return round(self.count - self.buckets.get(bound_s, 0.0))

    def max_ms(self) -> float | None:
        """The upper bound of the bucket holding the longest observation (ms); None without any."""
        if self.count <= 0:
            return None
        bound = min((le for le, n in self.buckets.items() if n >= self.count), default=math.inf)
        return round(1000 * bound, 1) if math.isfinite(bound) else None


def hub_pauses(metrics_text: str) -> dict[str, HubPauses]:
    """`gc` and `lag` from the hub's /metrics text, summed over workers and generations."""
    out = {"gc": HubPauses(), "lag": HubPauses()}
    names = {"hub_gc_pause_seconds": "gc", "hub_loop_lag_seconds": "lag"}
    for family in text_string_to_metric_families(metrics_text):
        kind = names.get(family.name)
        if kind is None:
            continue
        mine = out[kind]
        for sample in family.samples:
            if sample.name.endswith("_sum"):
                mine.seconds += sample.value
            elif sample.name.endswith("_count"):
                mine.count += sample.value
            elif sample.name.endswith("_bucket"):
                le = float(sample.labels["le"])
                mine.buckets[le] = mine.buckets.get(le, 0.0) + sample.value
    return out


@dataclass
class ServerEdge:
    """What the master reads at a step's edge about the server: the hub's pauses, each process's wait."""

    pauses: dict[str, HubPauses] | None
    waits_ns: dict[int, int]

    @classmethod
    def read(cls, metrics_text: str | None, pids: list[int]) -> ServerEdge:
        return cls(hub_pauses(metrics_text) if metrics_text else None, {pid: run_delay_ns(pid) for pid in pids})


def server_step(before: ServerEdge, after: ServerEdge, step_s: float) -> dict[str, Any]:
    """The hub's pause figures between two edges and its busiest process's run-queue wait (% of the step)."""
    waits = [after.waits_ns[pid] - before.waits_ns.get(pid, 0) for pid in after.waits_ns if pid in before.waits_ns]
    row: dict[str, Any] = {"server_wait_pct": round(100 * max(waits) / 1e9 / step_s, 1) if waits else None}
    for kind in ("gc", "lag"):
        if before.pauses is None or after.pauses is None:
            row |= {f"hub_{kind}_s": None, f"hub_{kind}_long": None, f"hub_{kind}_max_ms": None}
            continue
        d = after.pauses[kind].since(before.pauses[kind])
        row |= {f"hub_{kind}_s": round(d.seconds, 3), f"hub_{kind}_long": d.over(LONG_S),
                f"hub_{kind}_max_ms": d.max_ms()}
    return row


class StepStalls:
    """The generator's stalls per rate step, from each Locust worker's reports (cumulative figures are
    differenced per worker; a report counts for the step the master is in when it arrives)."""

    SUMMED = ("gc_s", "gc_long", "lag_s", "lag_long")

    def __init__(self, steps: int) -> None:
        self.last: dict[str, dict[str, float]] = {}
        self.sums = [dict.fromkeys(self.SUMMED, 0.0) for _ in range(steps)]
        self.peaks = [{"gc_max_ms": 0.0, "lag_max_ms": 0.0} for _ in range(steps)]
        self.waits: list[dict[str, float]] = [{} for _ in range(steps)]  # per worker: run-queue seconds

    def add(self, step: int | None, client_id: str, payload: dict[str, Any]) -> None:
        now = {k: float(payload[k]) for k in (*self.SUMMED, "wait_s", "gc_max_ms", "lag_max_ms") if k in payload}
        before = self.last.get(client_id)
        self.last[client_id] = now
        if step is None or before is None:
            return
        for k in self.SUMMED:
            self.sums[step][k] += now.get(k, 0.0) - before.get(k, 0.0)
        for k in self.peaks[step]:
            self.peaks[step][k] = max(self.peaks[step][k], now.get(k, 0.0))
        waits = self.waits[step]
        waits[client_id] = waits.get(client_id, 0.0) + now.get("wait_s", 0.0) - before.get("wait_s", 0.0)

    def row(self, i: int, step_s: float) -> dict[str, Any]:
        sums, peaks, waits = self.sums[i], self.peaks[i], self.waits[i]
        return {"generator_gc_s": round(sums["gc_s"], 3), "generator_gc_long": int(sums["gc_long"]),
                "generator_gc_max_ms": round(peaks["gc_max_ms"], 1), "generator_lag_s": round(sums["lag_s"], 3),
                "generator_lag_long": int(sums["lag_long"]), "generator_lag_max_ms": round(peaks["lag_max_ms"], 1),
                "generator_wait_pct": round(100 * max(waits.values()) / step_s, 1) if waits else None}
