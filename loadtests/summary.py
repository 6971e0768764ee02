"""The run's figures, its verdict against the targets, and `summary.json` (pure, no Locust).

The gate is the issue's: no drops, no failed handshakes, no Locust failures, p99 under target when
the scenario measures delivery, a load generator that was not itself saturated (a void run), no frame
rejected by the hub's rate limits (the offered load was not what the hub handled), and a hold that ran
to its end (an interrupted run never passes).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SATURATED_CPU_PERCENT = 90.0
# RFC 6455 close codes a user meets here, and what they mean for a run
CLOSE_CODES = {"1000": "normal", "1001": "going away", "1006": "abnormal",
               "1008": "policy: refused token or over the per-user cap", "1009": "frame too big",
               "1011": "server error", "1012": "service restart",
               "1013": "try again later: the hub's rate limit, a slow reader or Redis",
               "none": "no close frame"}


def describe_closes(close_codes: dict[str, int]) -> str:
    """`{"1013": 39}` -> "1013 try again later: the hub's rate limit, a slow reader or Redis x39"."""
    return ", ".join(f"{code} {CLOSE_CODES.get(code, '')} x{n}".replace("  ", " ")
                     for code, n in sorted(close_codes.items()))


@dataclass(frozen=True)
class Totals:
    """Counters summed over every Locust worker (cumulative for the run)."""

    connects: int = 0
    connections: int = 0          # open right now
    ready: int = 0                # users set up (connected, or out of retries)
    handshake_failures: int = 0
    handshake_retries: int = 0
    drops: int = 0
    sent: int = 0
    messages: int = 0             # deliveries received
    errors: int = 0               # error frames from the server
    out_of_order: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(**{k: v + getattr(other, k) for k, v in asdict(self).items()})


@dataclass(frozen=True)
class Latency:
    count: int = 0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    p999_ms: float = 0.0
    max_ms: float = 0.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Summary:
    scenario: str
    target: str
    url: str
    users: int
    workers: int
    connections_peak: int
    drops: int
    handshake_failures: int
    handshake_retries: int
    connects: int
    messages: int
    sent: int
    deliveries_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    latency_samples: int
    failures: int
    requests: int
    out_of_order: int
    errors: int
    duration_s: float
    hold_s: float
    target_p99_ms: float
    generator_cpu_max: float
    passed: bool
    checks: list[Check] = field(default_factory=list)
    protocol: str = "ws"                        # ws | http (the api scenario): which words fit the figures
    interrupted: bool = False                   # stopped before the hold ran to its end: never passes
    close_codes: dict[str, int] = field(default_factory=dict)   # drops by the server's close code
    hub_rate_limited: dict[str, int] | None = None  # frames the hub rejected during the run, by scope (None: unknown)
    connect_p50_ms: float = 0.0
    connect_p99_ms: float = 0.0
    connect_max_ms: float = 0.0
    connect_samples: int = 0
    started_at: str = ""
    passive_read_s: float = 0.0  # passive receivers read paced, each about every S s (0: as frames arrive)
    steps: list[dict[str, Any]] = field(default_factory=list)   # the rate-step curve, when stepped
    generators: list[dict[str, Any]] = field(default_factory=list)  # per Locust worker: host, peak, connects

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")


def judge(totals: Totals, latency: Latency, *, failures: int, measures_latency: bool, target_p99_ms: float,
          generator_cpu_max: float, missing_workers: int = 0, close_codes: dict[str, int] | None = None,
          hub_rate_limited: dict[str, int] | None = None, interrupted: bool = False, held_s: float = 0.0,
          planned_hold_s: float = 0.0, protocol: str = "ws") -> list[Check]:
    http = protocol == "http"
    checks = []
    if interrupted:
        checks.append(Check("interrupted", False, f"stopped after {held_s:.0f} s of the {planned_hold_s:g} s hold"))
    if not http:
        closes = f" ({describe_closes(close_codes)})" if close_codes else ""
        checks += [Check("drops", totals.drops == 0, f"{totals.drops} connections dropped{closes}"),
                   Check("handshakes", totals.handshake_failures == 0,
                         f"{totals.handshake_failures} handshakes failed after retries")]
    checks += [
        Check("failures", failures == 0, f"{failures} failed requests" if http else f"{failures} Locust failures"),
        Check("generator", generator_cpu_max < SATURATED_CPU_PERCENT,
              f"busiest Locust worker at {generator_cpu_max:.0f}% CPU"
              + (" (saturated: the run is void)" if generator_cpu_max >= SATURATED_CPU_PERCENT else "")),
        Check("workers", missing_workers == 0, f"{missing_workers} Locust workers went missing (missed heartbeats)"),
    ]
    if hub_rate_limited is not None:
        rejected = sum(hub_rate_limited.values())
        by_scope = ", ".join(f"{scope} {n:,}" for scope, n in hub_rate_limited.items() if n)
        checks.append(Check("rate limits", rejected == 0,
                            f"the hub rejected {rejected:,} frames for its rate limits"
                            + (f" ({by_scope}): lower --msg-rate or use smaller rooms" if rejected else "")))
    if measures_latency:
        what = "flow requests" if http else "deliveries"
        if latency.count == 0:
            checks.append(Check("p99", False, f"no {what} were measured"))
        else:
            checks.append(Check("p99", latency.p99_ms <= target_p99_ms,
                                f"p99 {latency.p99_ms:.1f} ms (target {target_p99_ms:g} ms)"))
    return checks


def build(*, scenario: str, target: str, url: str, users: int, workers: int, connections_peak: int,
          totals: Totals, latency: Latency, failures: int, requests: int, duration_s: float,
          target_p99_ms: float, measures_latency: bool, generator_cpu_max: float,
          started_at: str = "", hold_s: float = 0.0, missing_workers: int = 0,
          passive_read_s: float = 0.0, generators: list[dict[str, Any]] | None = None,
          close_codes: dict[str, int] | None = None, hub_rate_limited: dict[str, int] | None = None,
          connect: Latency | None = None, interrupted: bool = False, planned_hold_s: float = 0.0,
          protocol: str = "ws") -> Summary:
    checks = judge(totals, latency, failures=failures, measures_latency=measures_latency,
                   target_p99_ms=target_p99_ms, generator_cpu_max=generator_cpu_max,
                   missing_workers=missing_workers, close_codes=close_codes, hub_rate_limited=hub_rate_limited,
                   interrupted=interrupted, held_s=hold_s, planned_hold_s=planned_hold_s, protocol=protocol)
    connect = connect or Latency()
    return Summary(
        scenario=scenario, target=target, url=url, users=users, workers=workers,
        connections_peak=connections_peak, drops=totals.drops, handshake_failures=totals.handshake_failures,
        handshake_retries=totals.handshake_retries, connects=totals.connects, messages=totals.messages,
        sent=totals.sent, deliveries_per_s=round(totals.messages / hold_s, 1) if hold_s > 0 else 0.0,
        p50_ms=latency.p50_ms, p90_ms=latency.p90_ms, p99_ms=latency.p99_ms, p999_ms=latency.p999_ms,
        max_ms=latency.max_ms, latency_samples=latency.count, failures=failures, requests=requests,
        out_of_order=totals.out_of_order, errors=totals.errors, duration_s=round(duration_s, 1),
        hold_s=round(hold_s, 1), target_p99_ms=target_p99_ms,
        generator_cpu_max=round(generator_cpu_max, 1), passed=all(c.ok for c in checks), checks=checks,
        started_at=started_at, passive_read_s=passive_read_s, generators=list(generators or []),
        protocol=protocol, interrupted=interrupted, close_codes=dict(close_codes or {}),
        hub_rate_limited=hub_rate_limited, connect_p50_ms=connect.p50_ms, connect_p99_ms=connect.p99_ms,
        connect_max_ms=connect.max_ms, connect_samples=connect.count,
    )


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
