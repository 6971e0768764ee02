"""What one scenario run needs to know, handed from `run.py` to every Locust process by env vars.

Env vars rather than Locust options so the same frozen value is readable before Locust parses its
command line (module import time) and in every worker alike.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

PREFIX = "SPOTCTL_LOAD_"


@dataclass(frozen=True)
class RunConfig:
    scenario: str = "connections"
    target: str = "hub"            # which wire adapter: hub | node-ws | socketio | relay-floor
    url: str = "ws://127.0.0.1:8765/ws"
    api_url: str = "http://127.0.0.1:8000"
    redis_url: str = ""
    results_dir: str = "."
    tokens_file: str = ""          # one access token per line (hub and api targets)
    users: int = 10
    workers: int = 1
    worker_index: int = 0          # set per worker process: picks its source address and token slice
    source_base: int = 2           # worker i dials from 127.0.0.(source_base + i)
    room_size: int = 50
    msg_rate: float = 20.0         # messages/s published in total (open loop, scheduled)
    probe_every: int = 20          # one receiver in N decodes and times every message
    passive_read_s: float = 0.0    # passive receivers read every S seconds (0: as frames arrive)
    heartbeat_s: float = 25.0
    hold_s: float = 0.0            # informative: how long the run holds after the ramp
    target_p99_ms: float = 50.0
    run_id: str = "run"
    rate_steps: str = ""           # "1,2,5,10": msg_rate per step of step_s seconds (broadcast curve)
    step_s: float = 0.0
    metrics_url: str = ""          # the hub's /metrics (rate-limit counters), "" when the target is no hub
    protocol: str = "ws"           # ws | http: which words the summary uses
    server_pids: str = ""          # "1,2": the server's processes on this machine (per-step CPU), "" if unknown

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> RunConfig:
        source = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = source.get(PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            kind = type(getattr(cls(), f.name))
            values[f.name] = kind(raw)
        return cls(**values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        return {PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}

    @property
    def results(self) -> Path:
        return Path(self.results_dir)

    @property
    def steps(self) -> list[float]:
        return [float(r) for r in self.rate_steps.split(",") if r.strip()]

    def send_times(self, rooms: int, phase: float, start: float) -> Iterator[float]:
        """When one room's leader publishes (epoch seconds): every `rooms / rate` s at the same fraction
        `phase` (0..1, random per leader) of that period, restarted at each step's edge, so each step's
        sends are spread evenly from its first second. Carrying each leader's last send of one step
        over into the next bunched them instead: at 100k (2,000 rooms) the 200 msgs/s step sent
        100–350 msgs/s in a 10 s wave, 250 msgs/s 100–400 in an 8 s one (issue 18, goal 4)."""
        rates = self.steps if self.steps and self.step_s > 0 else [self.msg_rate]
        for i, rate in enumerate(rates):
            begin = start + i * self.step_s if i else start
            end = begin + self.step_s if i < len(rates) - 1 else math.inf
            period = 1.0 / max(0.01, rate / rooms)
            t = begin + phase * period
            while t < end:
                yield t
                t += period

    @property
    def server_pid_list(self) -> list[int]:
        return [int(p) for p in self.server_pids.split(",") if p.strip()]

    def user_id(self, index: int) -> str:
        """The account behind token `index` (sessions.mint and the notifier agree on it)."""
        return f"load-{self.run_id}-{index}"

    @property
    def source_address(self) -> str:
        """127.0.0.x when the target is on this machine (each source address has its own ephemeral
        ports); "" (the kernel's choice) when it is on another host, where loopback cannot reach."""
        host = urlsplit(self.api_url if self.target == "api" else self.url).hostname or ""
        if host != "localhost" and not host.startswith("127."):
            return ""
        return f"127.0.0.{self.source_base + self.worker_index}"


def token_share(tokens: list[str], index: int, workers: int) -> list[str]:
    """Worker `index` runs users index, index + workers, ...: exactly these tokens, in that order."""
    return tokens[index::max(1, workers)]
