"""What each Locust worker counts (plain ints bumped by the user greenlets, HDR histograms of its
latencies) and ships with every stats report; `metrics` merges them on the master."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from hdrh.histogram import HdrHistogram

from . import gauges, stalls, summary


def histogram() -> HdrHistogram:
    return HdrHistogram(1, 120_000_000, 3)  # microseconds, 1 µs .. 120 s


@dataclass
class Counters:
    """This process's side of the run; plain ints bumped by the user greenlets."""

    connects: int = 0
    connections: int = 0
    ready: int = 0                # users done setting up, connected or given up
    handshake_failures: int = 0
    handshake_retries: int = 0
    drops: int = 0
    sent: int = 0
    messages: int = 0
    errors: int = 0
    out_of_order: int = 0
    host: str = ""                # the address this worker's connections leave from
    close_codes: dict[str, int] = field(default_factory=dict)  # drops by the server's close code
    latency: HdrHistogram = field(default_factory=histogram)
    connect_latency: HdrHistogram = field(default_factory=histogram)
    cpu: gauges.ProcessCpu | None = None
    stalls: stalls.Stalls | None = None  # started in Locust workers (install)

    def record_latency(self, seconds: float) -> None:
        self.latency.record_value(max(1, int(seconds * 1_000_000)))

    def record_connect(self, seconds: float) -> None:
        """TCP connect + upgrade (+ the session's acknowledgement) of one connection."""
        self.connect_latency.record_value(max(1, int(seconds * 1_000_000)))

    def record_drop(self, code: int | None) -> None:
        self.drops += 1
        key = str(code) if code else "none"
        self.close_codes[key] = self.close_codes.get(key, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """Cumulative counters, the histograms recorded since the last snapshot, this process's CPU %."""
        skip = ("latency", "connect_latency", "cpu", "stalls")
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        out["close_codes"] = dict(self.close_codes)
        # Shipped histograms are replaced, not reset: hdrh's reset zeroes its 18,432 counts one by one in
        # Python (0.7 ms, twice a second in every worker), a new one costs 0.07 ms; empty ones stay.
        out["hdr"], out["connect_hdr"] = b"", b""
        if self.latency.get_total_count():
            out["hdr"], self.latency = self.latency.encode(), histogram()
        if self.connect_latency.get_total_count():
            out["connect_hdr"], self.connect_latency = self.connect_latency.encode(), histogram()
        if self.cpu is None:
            self.cpu = gauges.ProcessCpu()
        out["cpu"] = self.cpu.percent()
        out["cpu_s"] = self.cpu.seconds
        if self.stalls is not None:
            out |= self.stalls.figures()
        return out


def latency_of(hist: HdrHistogram) -> summary.Latency:
    if hist.get_total_count() == 0:
        return summary.Latency()

    def ms(p: float) -> float:
        return round(hist.get_value_at_percentile(p) / 1000, 2)

    return summary.Latency(count=hist.get_total_count(), p50_ms=ms(50), p90_ms=ms(90), p99_ms=ms(99),
                           p999_ms=ms(99.9), max_ms=round(hist.get_max_value() / 1000, 2))
