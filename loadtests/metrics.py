"""Counters and HDR histograms in every Locust worker, merged on the master into progress and summary.

Workers ship cumulative counters and the *delta* of their latency histogram with each stats report
(and once more when they stop); the master sums the counters, merges the histograms (HDR histograms
add exactly, unlike percentiles), writes `progress.json` for the live view and, when Locust quits,
`summary.json` plus `latency.hgrm`, and sets the process exit code from the gate.
"""

from __future__ import annotations

import functools
import io
import json
import time
from collections import deque
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import gevent
import locust.argument_parser
import locust.runners
import psutil
from gevent.event import Event
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from . import distributed, gauges, stalls, summary
from .config import RunConfig
from .counters import Counters, histogram, latency_of

KEY = "spotctl"
PROGRESS_EVERY_S = 2.0
RATE_WINDOW_S = 6.0
REPORT_EVERY_S = 1.0   # worker -> master stats reports (Locust's default is 3 s: too coarse for progress)
HEARTBEAT_LIVENESS = 15  # missed 1 s heartbeats before a worker is "missing" (Locust: 3, too few on a
                         # shared 2-core box during the startup burst; real saturation is gated on CPU)
HUB_COUNTERS_EVERY_S = 5.0  # how often the master reads the hub's /metrics for the live view


COUNTERS = Counters()
STOPPING = Event()  # set when Locust starts stopping users: closes from then on are not drops
RAMPED = Event()    # set when every user is set up (connected / logged in): publishers start, the hold begins
READY_TIMEOUT_S = 120.0     # at least; plus 5 ms per user for big ramps


class Aggregator:
    """Master side: the latest counters per worker, the merged histogram, the live progress file."""

    def __init__(self, env: Environment, config: RunConfig, measures_latency: bool) -> None:
        self.env, self.config, self.measures_latency = env, config, measures_latency
        self.per_worker: dict[str, summary.Totals] = {}
        self.close_codes: dict[str, dict[str, int]] = {}  # per Locust worker: drops by close code
        self.generators: dict[str, dict[str, Any]] = {}  # per worker: host, peak connections, connects
        self.hist = histogram()
        self.connect_hist = histogram()
        self.window = histogram()
        self.peak = 0
        self.cpu_max = 0.0
        self.hub_start: dict[str, int] | None = None   # the hub's rate-limit counters when the run began
        self.hub_now: dict[str, int] | None = None
        self.hub_read_at = 0.0
        self.missing: set[str] = set()
        self.started = 0.0
        self.spawned = 0.0
        self.hold_end = 0.0
        self.started_at = ""
        self.samples: deque[tuple[float, int, int]] = deque()
        self.steps = config.steps
        self.step_hists = [histogram() for _ in self.steps]
        self.step_messages = [0 for _ in self.steps]
        self.step_sent = [0 for _ in self.steps]
        self.step_cpu: list[tuple[float, float] | None] = [None for _ in self.steps]  # (server, box) CPU s
        self.step_generator_cpu = [0.0 for _ in self.steps]  # the busiest Locust worker's CPU % in the step
        self.step_generator_s = [0.0 for _ in self.steps]  # all Locust workers' CPU seconds in the step
        self.worker_cpu_s: dict[str, float] = {}  # per worker: its CPU seconds at its last report
        self.step_stalls = stalls.StepStalls(len(self.steps))  # the generator's pauses per step
        self.step_server: list[dict[str, Any]] = [{} for _ in self.steps]  # the hub's pauses, its wait
        self.window_stalls = [0.0, 0.0]  # the generator's longest GC pause and loop lag (ms) since the last row
        self.hub_pauses: tuple[dict[str, stalls.HubPauses] | None, dict[str, stalls.HubPauses] | None] = (None, None)
        self.cpu_meter = gauges.TreeCpu(config.server_pid_list)
        self._counted = (0, 0)
        self.progress: gevent.Greenlet | None = None
        self.timeline = (config.results / "timeline.csv").open("w")
        self.timeline.write("elapsed_s,users,connections,drops,handshake_failures,deliveries_per_s,"
                            "sent_per_s,p50_ms,p99_ms,gen_gc_max_ms,gen_lag_max_ms,hub_gc_max_ms,hub_lag_max_ms\n")

    def merge(self, client_id: str, data: dict[str, Any]) -> None:
        payload = data.get(KEY)
        if not payload:
            return
        step = self.step_now()
        hdr = payload.pop("hdr", b"")
        if hdr:
            self.hist.decode_and_add(hdr)
            self.window.decode_and_add(hdr)
            if step is not None:
                self.step_hists[step].decode_and_add(hdr)
        connect_hdr = payload.pop("connect_hdr", b"")
        if connect_hdr:
            self.connect_hist.decode_and_add(connect_hdr)
        self.per_worker[client_id] = summary.Totals(**{k: payload.get(k, 0)
                                                       for k in summary.Totals.__dataclass_fields__})
        self.close_codes[client_id] = dict(payload.get("close_codes") or {})
        if self.holding():  # a saturated generator during the hold voids the run
            self.cpu_max = max(self.cpu_max, float(payload.get("cpu") or 0.0))
            if step is not None:
                self.step_generator_cpu[step] = max(self.step_generator_cpu[step], float(payload.get("cpu") or 0.0))
        cpu_s = float(payload.get("cpu_s") or 0.0)
        if step is not None and client_id in self.worker_cpu_s:
            self.step_generator_s[step] += cpu_s - self.worker_cpu_s[client_id]
        self.worker_cpu_s[client_id] = cpu_s
        self.step_stalls.add(step, client_id, payload)
        self.window_stalls = [max(self.window_stalls[0], float(payload.get("gc_max_ms") or 0.0)),
                              max(self.window_stalls[1], float(payload.get("lag_max_ms") or 0.0))]
        mine = self.generators.setdefault(client_id, {"host": "", "connections_peak": 0, "connects": 0})
        mine["host"] = payload.get("host") or mine["host"]
        mine["connections_peak"] = max(mine["connections_peak"], int(payload.get("connections", 0)))
        mine["connects"] = int(payload.get("connects", 0))
        totals = self.totals()
        self.peak = max(self.peak, totals.connections)
        if step is not None:  # attribute what arrived since the last report to the current step
            self.step_messages[step] += totals.messages - self._counted[0]
            self.step_sent[step] += totals.sent - self._counted[1]
        self._counted = (totals.messages, totals.sent)

    def holding(self) -> bool:
        return bool(self.spawned) and not self.hold_end

    def drops_by_code(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for codes in self.close_codes.values():
            for code, n in codes.items():
                merged[code] = merged.get(code, 0) + n
        return dict(sorted(merged.items()))

    def read_hub(self, force: bool = False) -> None:
        """The hub's rate-limit counters (every few seconds; the first reading is the baseline)."""
        if not self.config.metrics_url or (not force and time.monotonic() - self.hub_read_at < HUB_COUNTERS_EVERY_S):
            return
        self.hub_read_at = time.monotonic()
        text = gauges.read_metrics(self.config.metrics_url)
        now = gauges.rate_limited(text) if text is not None else None
        if text is not None:
            self.hub_pauses = (self.hub_pauses[0], stalls.hub_pauses(text))
        if self.hub_start is None:
            self.hub_start = now
        elif now is not None:
            self.hub_now = now

    def hub_rate_limited(self) -> dict[str, int] | None:
        return gauges.since(self.hub_now or self.hub_start, self.hub_start)

    def remaining_s(self, users: int) -> float:
        """Seconds left: what the ramp still needs at the spawn rate, then the hold."""
        if self.hold_end:
            return 0.0
        if self.spawned:
            return max(0.0, self.config.hold_s - (time.monotonic() - self.spawned))
        options = self.env.parsed_options
        rate = float(getattr(options, "spawn_rate", 0) or 0) if options is not None else 0.0
        ramp = (self.config.users - users) / rate if rate > 0 else 0.0
        return ramp + self.config.hold_s

    def step_now(self) -> int | None:
        """Which rate step the hold is in (by the master's clock), None outside stepped holds."""
        if not self.steps or not self.spawned or self.hold_end:
            return None
        return min(len(self.steps) - 1, int((time.monotonic() - self.spawned) // self.config.step_s))

    def curve(self) -> list[dict[str, Any]]:
        rows = []
        for i, rate in enumerate(self.steps):
            lat = latency_of(self.step_hists[i])
            row = {"step": i, "offered_msgs_per_s": rate,
                   "sent_per_s": round(self.step_sent[i] / self.config.step_s, 1),
                   "deliveries_per_s": round(self.step_messages[i] / self.config.step_s, 1),
                   "p50_ms": lat.p50_ms, "p99_ms": lat.p99_ms, "max_ms": lat.max_ms, "samples": lat.count,
                   "generator_cpu_max": self.step_generator_cpu[i],
                   "generator_us_per_delivery": round(1e6 * self.step_generator_s[i] / self.step_messages[i], 2)
                   if self.step_messages[i] else None}
            rows.append(row | self.step_cpu_figures(i) | self.step_stalls.row(i, self.config.step_s)
                        | self.step_server[i])
        return rows

    def step_cpu_figures(self, i: int) -> dict[str, float | None]:
        """The server's CPU % and µs per delivery in step `i`, and how busy the whole box was (% of
        all its cores); None where the server's processes are not on this machine."""
        used = self.step_cpu[i]
        if used is None:
            return {"server_cpu_pct": None, "server_us_per_delivery": None, "box_busy_pct": None}
        server_s, box_s = used
        step_s, messages = self.config.step_s, self.step_messages[i]
        cores = psutil.cpu_count() or 1
        return {"server_cpu_pct": round(100 * server_s / step_s, 1) if self.config.server_pids else None,
                "server_us_per_delivery": round(1e6 * server_s / messages, 2)
                if messages and self.config.server_pids else None,
                "box_busy_pct": round(100 * box_s / step_s / cores, 1)}

    def totals(self) -> summary.Totals:
        total = summary.Totals()
        for t in self.per_worker.values():
            total = total + t
        return total

    def on_start(self) -> None:
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.read_hub(force=True)

    def progress_loop(self) -> None:
        while True:
            gevent.sleep(PROGRESS_EVERY_S)
            self.write_progress()

    def note_missing(self) -> None:
        """Workers Locust marked missing (missed heartbeats): their figures are incomplete."""
        runner = self.env.runner
        if isinstance(runner, MasterRunner) and runner.state in ("spawning", "running"):
            self.missing |= {c.id for c in runner.clients.values() if c.state == "missing"}

    def rates(self, now: float, totals: summary.Totals) -> tuple[float, float]:
        """Deliveries/s and sends/s over the last few seconds (reports arrive every second)."""
        self.samples.append((now, totals.messages, totals.sent))
        while len(self.samples) > 2 and now - self.samples[0][0] > RATE_WINDOW_S:
            self.samples.popleft()
        then, messages, sent = self.samples[0]
        dt = now - then
        return ((totals.messages - messages) / dt, (totals.sent - sent) / dt) if dt > 0 else (0.0, 0.0)

    def write_progress(self) -> None:
        now = time.monotonic()
        self.note_missing()
        self.read_hub()
        totals = self.totals()
        rate, sent_rate = self.rates(now, totals)
        window = latency_of(self.window)
        self.window.reset()
        users = self.env.runner.user_count if self.env.runner is not None else 0
        elapsed = now - self.started if self.started else 0.0
        progress = {"elapsed_s": round(elapsed, 1), "users": users, "connections": totals.connections,
                    "connections_peak": self.peak, "drops": totals.drops,
                    "handshake_failures": totals.handshake_failures, "messages": totals.messages,
                    "deliveries_per_s": round(rate, 1), "sent_per_s": round(sent_rate, 1),
                    "p50_ms": window.p50_ms, "p99_ms": window.p99_ms,
                    "failures": self.env.stats.total.num_failures, "cpu_max": round(self.cpu_max, 1),
                    "remaining_s": round(self.remaining_s(users), 1), "close_codes": self.drops_by_code(),
                    "rate_limited": self.hub_rate_limited(), "requests": self.env.stats.total.num_requests,
                    "protocol": self.config.protocol}
        tmp = self.config.results / "progress.json.tmp"
        tmp.write_text(json.dumps(progress))
        tmp.replace(self.config.results / "progress.json")
        self.timeline.write(f"{elapsed:.1f},{users},{totals.connections},{totals.drops},"
                            f"{totals.handshake_failures},{rate:.1f},{sent_rate:.1f},"
                            f"{window.p50_ms},{window.p99_ms},{self.window_stalls[0]:.1f},{self.window_stalls[1]:.1f},"
                            f"{self.hub_window()}\n")
        self.window_stalls = [0.0, 0.0]
        self.timeline.flush()

    def hub_window(self) -> str:
        """The hub's longest GC pause and loop lag (bucket bounds, ms) since the previous reading of its
        /metrics ("," when there was no new reading: it is read every few seconds)."""
        before, now = self.hub_pauses
        if now is None or now is before:
            return ","
        self.hub_pauses = (now, now)
        if before is None:
            return ","
        return ",".join(str(now[k].since(before[k]).max_ms() or "") for k in ("gc", "lag"))

    def server_edge(self) -> stalls.ServerEdge:
        text = gauges.read_metrics(self.config.metrics_url) if self.config.metrics_url else None
        return stalls.ServerEdge.read(text, self.cpu_meter.pids())

    def stop_after_hold(self) -> None:
        """Once every user is set up, tell the workers, hold for `hold_s`, then stop and quit."""
        runner = self.env.runner
        assert isinstance(runner, MasterRunner)
        deadline = time.monotonic() + max(READY_TIMEOUT_S, self.config.users / 200)
        while self.totals().ready < self.config.users and time.monotonic() < deadline:
            gevent.sleep(0.2)
        runner.send_message("spotctl_ready")
        self.spawned = time.monotonic()
        (self.config.results / "ramped").write_text(self.started_at)  # the notifier starts on this
        if self.steps:
            edge = self.server_edge()
            for i in range(len(self.steps)):  # each step's CPU, pauses and waits, read at its edges
                server, box = self.cpu_meter.server_s(), self.cpu_meter.box_busy_s()
                gevent.sleep(max(0.0, self.spawned + (i + 1) * self.config.step_s - time.monotonic()))
                self.step_cpu[i] = (self.cpu_meter.server_s() - server, self.cpu_meter.box_busy_s() - box)
                edge, before = self.server_edge(), edge
                self.step_server[i] = stalls.server_step(before, edge, self.config.step_s)
        else:
            gevent.sleep(self.config.hold_s)
        self.hold_end = time.monotonic()
        runner.stop()
        runner.quit()

    def finish(self) -> summary.Summary:
        end = self.hold_end or time.monotonic()
        duration = end - self.started if self.started else 0.0
        held = end - self.spawned if self.spawned else 0.0
        if self.progress is not None:
            self.progress.kill()
        self.read_hub(force=True)
        self.write_progress()
        self.timeline.close()
        latency = latency_of(self.hist)
        result = summary.build(
            scenario=self.config.scenario, target=self.config.target, url=self.config.url,
            users=self.config.users, workers=self.config.workers, connections_peak=self.peak,
            totals=self.totals(), latency=latency, failures=self.env.stats.total.num_failures,
            requests=self.env.stats.total.num_requests, duration_s=duration,
            target_p99_ms=self.config.target_p99_ms, measures_latency=self.measures_latency,
            generator_cpu_max=self.cpu_max, started_at=self.started_at, hold_s=held,
            missing_workers=len(self.missing), passive_read_s=self.config.passive_read_s,
            generators=sorted(self.generators.values(), key=lambda g: (g["host"], -g["connects"])),
            close_codes=self.drops_by_code(), hub_rate_limited=self.hub_rate_limited(),
            connect=latency_of(self.connect_hist), interrupted=not self.hold_end, planned_hold_s=self.config.hold_s,
            protocol=self.config.protocol)
        if self.steps:
            result = replace(result, steps=self.curve())
        result.write(self.config.results / "summary.json")
        if latency.count:
            buf = io.BytesIO()
            self.hist.output_percentile_distribution(buf, 1000.0)
            (self.config.results / "latency.hgrm").write_bytes(buf.getvalue())
        return result


_SLOW_USER_CLASSES_COUNT = locust.runners.Runner.user_classes_count


def _user_classes_count(runner: locust.runners.Runner) -> dict[str, int]:
    if len(runner.user_classes) == 1:
        return {runner.user_classes[0].__name__: len(runner.user_greenlets)}
    return dict(_SLOW_USER_CLASSES_COUNT.fget(runner))  # type: ignore[attr-defined]


def install(env: Environment, config: RunConfig, *, measures_latency: bool) -> None:
    """Wire the collector into Locust's events; call from each scenario's `init` listener."""
    runner = env.runner
    locust.runners.WORKER_REPORT_INTERVAL = REPORT_EVERY_S
    locust.runners.HEARTBEAT_LIVENESS = HEARTBEAT_LIVENESS
    # Locust 2.47 rebuilds its whole argument parser once per option of every spawn message (each
    # second of the ramp, on every worker): 10 workers burnt 1.6 cores doing it and starved the hub.
    # The defaults never change within a process, so compute them once.
    if not hasattr(locust.argument_parser.default_args_dict, "cache_info"):
        locust.argument_parser.default_args_dict = functools.cache(locust.argument_parser.default_args_dict)
    # Its `user_classes_count` walks every user greenlet and is read ~10 times per spawn message: at
    # 6,000+ users per worker it was half of each worker's CPU (py-spy, 100k ramp). A scenario runs one
    # user class, whose count is the size of the greenlet group.
    locust.runners.Runner.user_classes_count = property(_user_classes_count)  # type: ignore[method-assign]

    def started(**_: Any) -> None:
        STOPPING.clear()
        RAMPED.clear()

    env.events.test_start.add_listener(started)
    env.events.test_stopping.add_listener(lambda **_: STOPPING.set())
    distributed.install(env, config)
    if isinstance(runner, WorkerRunner):
        COUNTERS.stalls = COUNTERS.stalls or stalls.Stalls().start()

        def report(client_id: str, data: dict[str, Any]) -> None:
            data[KEY] = COUNTERS.snapshot()

        def final(**_: Any) -> None:
            runner.send_message("spotctl_final", COUNTERS.snapshot())

        runner.register_message("spotctl_ready", lambda *_, **__: RAMPED.set())
        env.events.report_to_master.add_listener(report)
        env.events.test_stop.add_listener(final)
    elif isinstance(runner, MasterRunner):
        agg = Aggregator(env, config, measures_latency)
        runner.register_message("spotctl_final", lambda msg, **_: agg.merge(msg.node_id, {KEY: msg.data}))
        env.events.worker_report.add_listener(lambda client_id, data: agg.merge(client_id, data))
        env.events.test_start.add_listener(lambda **_: agg.on_start())
        env.events.spawning_complete.add_listener(lambda **_: gevent.spawn(agg.stop_after_hold))

        def quitting(environment: Environment, **_: Any) -> None:
            result = agg.finish()
            environment.process_exit_code = 0 if result.passed else 1

        env.events.quitting.add_listener(quitting)
        agg.progress = gevent.spawn(agg.progress_loop)
