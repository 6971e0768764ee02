"""Run one scenario: start the target, mint sessions, start Locust master + workers, watch, collect.

Worker processes are as few as the fd limit allows (17k connections each, 20k fds per process) and each
dials from its own 127.0.0.x address; the master writes `progress.json` every 2 s (handed to
`on_progress`) and `summary.json` at the end. Every child is stopped on the way out, even on error,
and a run stopped by Ctrl-C (or SIGTERM) still leaves its summary, marked interrupted and failed.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import htmlreport, sessions, targets
from .catalog import SCENARIOS, Scenario, hub_rate_limit, over_limit_advice
from .config import RunConfig
from .sampler import Sampler, peaks

CONNECTIONS_PER_WORKER = 17_000  # under 20,000 open files with room for Locust's own; each process
                                 # costs ~1 % of a core however few it holds (issue 18)
MAX_WORKERS = 12
ROOT = Path(__file__).resolve().parents[1]


class RunError(Exception):
    """The run could not be set up or did not finish; the message names the cause."""


@dataclass(frozen=True)
class RunRequest:
    scenario: str
    users: int
    spawn_rate: float
    hold_s: float
    target_p99_ms: float
    results_dir: Path
    env: dict[str, str]                 # resolved endpoints (REDIS_URL, JWT_SECRET, HUB_URL, ...)
    target: str = ""                    # default: the scenario's first target
    msg_rate: float | None = None
    room_size: int | None = None
    probe_every: int = 20
    passive_read_s: float = 0.0         # passive receivers read every S s (0: as frames arrive)
    workers: int = 0                    # 0: sized from users
    hub: str = "auto"                   # auto | stack | own
    hub_workers: int = 0                # 0: sized from users
    rate_steps: tuple[float, ...] = ()  # msg_rate per step of step_s (the hold is their total)
    step_s: float = 0.0
    heartbeat_s: float = 25.0
    remote_workers: int = 0             # Locust workers that join from other hosts (`spotctl load worker`)
    master_bind: str = "127.0.0.1"      # where the master listens for its workers
    master_port: int = 0                # 0: a free port (5557, Locust's, is the usual one for remote workers)
    workers_wait_s: float = 60.0        # how long the master waits for every worker to join


@dataclass
class Outcome:
    summary: dict[str, Any]
    exit_code: int
    results_dir: Path
    target: str
    artifacts: list[Path] = field(default_factory=list)
    interrupted: bool = False


def msg_rate_of(req: RunRequest) -> float:
    """The asked rate, or the scenario's default (kept within the hub's rate limits when it is the target)."""
    scenario = SCENARIOS[req.scenario]
    if req.msg_rate is not None:
        return req.msg_rate
    if (req.target or scenario.targets[0]) != "hub":
        return scenario.msg_rate
    return scenario.default_rate(req.users, req.room_size or scenario.room_size, hub_rate_limit(req.env))


def warnings(req: RunRequest) -> list[str]:
    """What the user should know before the run: an asked rate the hub's limits will refuse."""
    scenario = SCENARIOS[req.scenario]
    if (req.target or scenario.targets[0]) != "hub":
        return []
    room = req.room_size or scenario.room_size
    limit = hub_rate_limit(req.env)
    rates = req.rate_steps or ((req.msg_rate,) if req.msg_rate is not None else ())
    advice = [over_limit_advice(scenario, rate, req.users, room, limit) for rate in sorted(set(rates))[-1:]]
    return [a for a in advice if a]


def plan_workers(users: int, requested: int = 0, remote: int = 0) -> int:
    """Local Locust workers: the fewest that keep each under 17k connections (fd limit 20k; every process
    has its own fixed cost: heartbeats, stats reports, the reader's ticks, the master's merges); with
    workers joining from other hosts, only those asked for (they carry the load)."""
    if requested or remote:
        return requested
    return max(1, min(MAX_WORKERS, math.ceil(users / CONNECTIONS_PER_WORKER)))


def _start_target(req: RunRequest, scenario: Scenario, target: str) -> targets.Target:
    results = req.results_dir
    if target == "node-ws":
        return targets.node_ws(results)
    if target == "socketio":
        return targets.socketio(results)
    if target == "relay-floor":
        return targets.relay_floor(results, req.env)
    if target == "api":
        api = req.env.get("API_URL", "")
        if not targets.healthy(api.rstrip("/") + "/health"):
            raise targets.TargetError(f"the API does not answer at {api}/health; start it with `spotctl up api`")
        return targets.Target("api", api, api.rstrip("/") + "/health", f"the stack's API at {api}")
    mode = req.hub
    if mode == "auto":
        mode = "own" if req.users > targets.CONNECTIONS_PER_HUB_WORKER or req.hub_workers else "stack"
    if mode == "own":
        return targets.own_hub(req.env, req.hub_workers or targets.hub_workers_for(req.users), results, ROOT)
    return targets.stack_hub(req.env.get("HUB_URL", ""), req.env.get("HUB_METRICS_URL", ""), req.users)


def _locust(scenario: Scenario, cfg: RunConfig, req: RunRequest, port: int,
            local: int) -> list[subprocess.Popen[bytes]]:
    """The master (expecting `cfg.workers`: `local` started here, the rest joining from elsewhere)."""
    results = req.results_dir
    base_env = {**os.environ, **cfg.to_env(), "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    common = [sys.executable, "-m", "locust", "-f", str(scenario.file), "--loglevel", "INFO"]
    master_cmd = [*common, "--master", "--master-bind-host", req.master_bind, "--master-bind-port", str(port),
                  "--expect-workers", str(cfg.workers), "--expect-workers-max-wait", f"{req.workers_wait_s:g}",
                  "--headless",
                  "-u", str(req.users), "-r", f"{req.spawn_rate:g}", "--csv", str(results / "locust"),
                  "--csv-full-history", "--html", str(results / "report.html"),
                  "--logfile", str(results / "master.log")]
    procs = [subprocess.Popen(master_cmd, env=base_env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=(results / "master.err").open("ab"), start_new_session=True)]
    for i in range(local):
        env = {**base_env, **replace(cfg, worker_index=i).to_env()}
        cmd = [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
               "--logfile", str(results / f"worker-{i}.log")]
        procs.append(subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                      stderr=(results / f"worker-{i}.err").open("ab"), start_new_session=True))
    return procs


def _notifier(cfg: RunConfig, results: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **cfg.to_env(), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "loadtests.notifier"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=(results / "notifier.err").open("ab"))


def stop_all(procs: list[subprocess.Popen[bytes]], grace_s: float = 15.0) -> None:
    """SIGTERM each (Locust writes its reports on the way out), SIGKILL what outlives `grace_s`."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _watch(master: subprocess.Popen[bytes], results: Path, limit_s: float,
           on_progress: Callable[[dict[str, Any]], None]) -> bool:
    """Hand progress to the caller until the master exits; False when the time limit hit first."""
    deadline = time.monotonic() + limit_s
    progress = results / "progress.json"
    seen = 0.0
    while master.poll() is None:
        if time.monotonic() > deadline:
            return False
        if progress.exists() and progress.stat().st_mtime != seen:
            seen = progress.stat().st_mtime
            try:
                on_progress(json.loads(progress.read_text()))
            except ValueError:
                pass  # caught mid-replace; the next tick has it
        time.sleep(0.5)
    return True


def _save_metrics(url: str, path: Path) -> None:
    """The hub's own view of the run (connections, deliveries, shed frames, its delivery histogram)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            path.write_bytes(resp.read())
    except OSError as exc:
        path.write_text(f"could not read {url}: {exc}\n")


def _last_line(path: Path) -> str:
    lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return lines[-1] if lines else "no output"


def run(req: RunRequest, on_target: Callable[[str], None],
        on_progress: Callable[[dict[str, Any]], None]) -> Outcome:
    scenario = SCENARIOS[req.scenario]
    target_kind = req.target or scenario.targets[0]
    if target_kind not in scenario.targets:
        raise RunError(f"scenario {scenario.name!r} runs against {', '.join(scenario.targets)}, not {target_kind!r}")
    req.results_dir.mkdir(parents=True, exist_ok=True)
    local = plan_workers(req.users, req.workers, req.remote_workers)
    workers = local + req.remote_workers
    redis_url = req.env.get("REDIS_URL", "")
    target: targets.Target | None = None
    procs: list[subprocess.Popen[bytes]] = []
    jtis: list[str] = []
    sampler: Sampler | None = None
    interrupted = False  # by Ctrl-C / SIGTERM: cleaned up, summarised, reported as such
    try:
        target = _start_target(req, scenario, target_kind)
        on_target(target.describe)
        cfg = RunConfig(
            scenario=scenario.name, target=target_kind, url=target.url, api_url=req.env.get("API_URL", ""),
            redis_url=redis_url, results_dir=str(req.results_dir), users=req.users, workers=workers,
            room_size=req.room_size or scenario.room_size, msg_rate=msg_rate_of(req),
            probe_every=req.probe_every, passive_read_s=req.passive_read_s, hold_s=req.hold_s,
            target_p99_ms=req.target_p99_ms,
            run_id=uuid.uuid4().hex[:8], rate_steps=",".join(f"{r:g}" for r in req.rate_steps),
            step_s=req.step_s, heartbeat_s=req.heartbeat_s, protocol=scenario.protocol,
            metrics_url=target.health_url.replace("/health", "/metrics") if target_kind == "hub" else "",
            server_pids=",".join(str(p) for p in target.server_pids()))
        if req.rate_steps:
            cfg = replace(cfg, hold_s=len(req.rate_steps) * req.step_s)
        if target_kind == "hub":
            tokens_file = req.results_dir / "tokens.txt"
            jtis = sessions.mint(redis_url, req.env.get("JWT_SECRET", ""), cfg.user_id, req.users, tokens_file)
            cfg = replace(cfg, tokens_file=str(tokens_file))
        procs = _locust(scenario, cfg, req, req.master_port or targets.free_port(), local)
        if scenario.name == "notifications":
            procs.append(_notifier(cfg, req.results_dir))
        sampler = Sampler(req.results_dir / "samples.csv", urlsplit(target.url).port or 80, cfg.metrics_url,
                          target.server_pids(), [p.pid for p in procs])
        sampler.start()
        limit = req.users / max(req.spawn_rate, 0.1) * 2 + req.hold_s + 180 + req.workers_wait_s
        try:
            finished = _watch(procs[0], req.results_dir, limit, on_progress)
        except KeyboardInterrupt:
            interrupted, finished = True, False
        sampler.stop()  # its last row while the Locust workers still run
        if not finished:
            stop_all(procs[:1], grace_s=60)  # SIGTERM: Locust still writes its reports and summary
        stop_all(procs[1:])
    except targets.TargetError as exc:
        raise RunError(str(exc)) from None
    finally:
        if sampler is not None:
            sampler.stop()
        stop_all(procs)
        if target is not None:
            if target.kind == "hub":
                _save_metrics(target.health_url.replace("/health", "/metrics"), req.results_dir / "hub-metrics.txt")
            target.stop()
        if jtis:
            sessions.revoke(redis_url, jtis)
        (req.results_dir / "tokens.txt").unlink(missing_ok=True)  # revoked; never leave them behind
    summary_file = req.results_dir / "summary.json"
    if not summary_file.exists():
        if interrupted:
            raise KeyboardInterrupt
        raise RunError(f"Locust ended without a summary (exit code {procs[0].returncode}): "
                       f"{_last_line(req.results_dir / 'master.err')}")
    summary = complete(json.loads(summary_file.read_text()), req.results_dir, interrupted,
                       server_sampled=bool(target and target.server_pids()))
    summary["target_description"] = target.describe if target else ""
    summary_file.write_text(json.dumps(summary, indent=2) + "\n")
    htmlreport.add_to(req.results_dir / "report.html", summary, req.results_dir / "timeline.csv")
    artifacts = sorted(p for p in req.results_dir.iterdir() if p.suffix in (".html", ".csv", ".json", ".hgrm"))
    code = 130 if interrupted else procs[0].returncode or (0 if summary.get("passed") else 1)
    return Outcome(summary, code, req.results_dir, target.describe if target else "", artifacts, interrupted)


def complete(summary: dict[str, Any], results: Path, interrupted: bool, server_sampled: bool) -> dict[str, Any]:
    """What only this side knows: the notifier's counts, the server's CPU/RSS peaks (None when its processes
    are not on this machine or not known, as for the API), and an interruption (the master may not have
    seen one: a Ctrl-C during the ramp reaches it as an ordinary quit)."""
    notifier = results / "notifier.json"
    if notifier.exists():
        sent = json.loads(notifier.read_text())
        summary["sent"] = sent["sent"]
        summary["sent_by_priority"] = sent["by_priority"]
    top = peaks(results / "samples.csv")
    summary["server_cpu_max"] = top.get("server_cpu", 0.0) if server_sampled else None
    summary["server_rss_mb_max"] = top.get("server_rss_mb", 0.0) if server_sampled else None
    if interrupted and not summary.get("interrupted"):
        summary["interrupted"] = True
        summary["checks"] = [{"name": "interrupted", "ok": False, "detail": "stopped by the user"},
                             *summary.get("checks", [])]
    if summary.get("interrupted"):
        summary["passed"] = False
    return summary
