"""`spotctl load`: run the Locust scenarios in `loadtests/` and gate on their targets.

`run` starts Locust master + workers sized for the fd limit, spreads connections over 127.0.0.x
source addresses, makes sure the hub has enough workers (its own hub tree for big runs), shows live
progress, writes report.html, locust_*.csv and summary.json, and exits 1 when a target is missed.
With `--expect-workers N` the master also waits for N workers from other machines, each started
there with `spotctl load worker --master HOST[:PORT]` (Locust's distributed mode): the master hands
them the scenario, the run's settings and their share of the access tokens.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spotctl.commands._complete import LoadScenario
from spotctl.output import OutputFormat, OutputOpt

if TYPE_CHECKING:
    from types import ModuleType


def register(app: typer.Typer) -> None:
    load = typer.Typer(name="load", help="Load-test the hub, the API and baseline peers with Locust.",
                       no_args_is_help=True)
    load.command("run")(run)
    load.command("worker")(worker)
    load.command("list")(list_scenarios)
    app.add_typer(load)


def _loadtests() -> ModuleType:
    """Import `loadtests` from the project checkout (it is not installed: it lives beside the CLI)."""
    from spotctl import project

    module: ModuleType = project.import_loadtests()
    return module


def list_scenarios(output: OutputOpt = OutputFormat.table) -> None:
    """The scenarios `spotctl load run` accepts."""
    _loadtests()
    from loadtests.catalog import SCENARIOS
    from spotctl.output import emit

    data = [{"name": s.name, "targets": list(s.targets), "measures_latency": s.measures_latency,
             "summary": s.summary} for s in SCENARIOS.values()]
    emit(data, output, ("scenario", "targets", "what it does"),
         [(s.name, ", ".join(s.targets), s.summary) for s in SCENARIOS.values()])


def run(
    scenario: LoadScenario,
    users: Annotated[int, typer.Option("--users", "-u", help="Concurrent users (one connection each).")] = 100,
    spawn_rate: Annotated[float, typer.Option("--spawn-rate", "-r",
                                              help="Users started per second in total (pace the ramp).")] = 50.0,
    duration: Annotated[str, typer.Option("--duration", "-t", help="How long to hold the full load once the ramp "
                                                                 "is done: 30, 20s, 1m, 1m30s.")] = "30s",
    target_p99: Annotated[float, typer.Option("--target-p99", help="p99 delivery gate in ms.")] = 50.0,
    target: Annotated[str | None, typer.Option("--target",
                                               help="hub | node-ws | socketio | relay-floor | api "
                                                    "(default: the "
                                                    "scenario's own).")] = None,
    msg_rate: Annotated[float | None, typer.Option("--msg-rate",
                                                   help="Messages/s published in total (open loop).")] = None,
    room_size: Annotated[int | None, typer.Option("--room-size", help="Members per room.")] = None,
    probe_every: Annotated[int, typer.Option("--probe-every",
                                             help="One receiver in N times every delivery.")] = 20,
    passive_read_every: Annotated[float, typer.Option(
        "--passive-read-every",
        help="Seconds between reads of the passive receivers (0: as frames arrive). The kernel holds their "
             "frames meanwhile; it cuts the generator's CPU per delivery on a shared box. At most 10 (the "
             "server's pings must be answered). Probes always read at once.")] = 0.0,
    workers: Annotated[int, typer.Option("--workers", help="Locust worker processes (0: one per 10k users).")]
    = 0,
    hub: Annotated[str, typer.Option("--hub", help="auto | stack | own: 'own' starts a hub tree for the run "
                                                   "(auto does so above 12,500 users).")] = "auto",
    hub_workers: Annotated[int, typer.Option("--hub-workers",
                                             help="HUB_WORKERS of our own hub (0: one per 12.5k users).")] = 0,
    rate_steps: Annotated[str | None, typer.Option("--rate-steps",
                                                   help="Comma list of msgs/s, one per step (a curve); "
                                                        "the hold becomes steps x --step-duration.")] = None,
    step_duration: Annotated[str, typer.Option("--step-duration", help="Time per rate step (20, 20s, 1m).")] = "20s",
    heartbeat: Annotated[float, typer.Option("--heartbeat",
                                             help="Seconds between client app-level pings (0: none; the "
                                                  "server's WebSocket pings are always answered).")]
    = 25.0,
    results: Annotated[Path | None, typer.Option("--results",
                                                 help="Results folder (default results/<scenario>-<time>).")]
    = None,
    expect_workers: Annotated[int, typer.Option(
        "--expect-workers", help="Locust workers joining from other machines (`spotctl load worker --master "
                                 "THIS_HOST`); with it, --workers counts only local ones (default none).")] = 0,
    master_bind: Annotated[str | None, typer.Option(
        "--master-bind", help="Address the Locust master listens on (default 0.0.0.0 with --expect-workers, "
                              "else 127.0.0.1).")] = None,
    master_port: Annotated[int, typer.Option("--master-port",
                                             help="Port the Locust master listens on (0: any free port; "
                                                  "5557 with --expect-workers).")] = 0,
    workers_wait: Annotated[float, typer.Option("--workers-wait",
                                                help="Seconds to wait for every worker to join.")] = 120.0,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Run a load scenario; exit 1 if it drops connections, fails requests or misses the p99 target."""
    from spotctl.errors import SpotctlError, UsageError

    _loadtests()
    from loadtests import run as runner
    from loadtests.catalog import SCENARIOS
    from loadtests.targets import CONNECTIONS_PER_HUB_WORKER

    if scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {scenario!r}", hint=f"choose one of: {', '.join(SCENARIOS)}")
    hold_s, step_s = _seconds(duration, "--duration"), _seconds(step_duration, "--step-duration")
    if target is not None and target not in SCENARIOS[scenario].targets:
        raise UsageError(f"scenario {scenario!r} cannot run against {target!r}",
                         hint=f"its targets are: {', '.join(SCENARIOS[scenario].targets)}")
    if users < 1 or spawn_rate <= 0 or target_p99 <= 0:
        raise UsageError("--users, --spawn-rate and --target-p99 must be positive, --duration not negative")
    try:
        steps = tuple(float(r) for r in rate_steps.split(",") if r.strip()) if rate_steps else ()
    except ValueError:
        raise UsageError(f"--rate-steps must be numbers separated by commas, not {rate_steps!r}") from None
    if any(r <= 0 for r in steps) or step_s <= 0 or heartbeat < 0:
        raise UsageError("--rate-steps and --step-duration must be positive, --heartbeat not negative")
    if not 0 <= passive_read_every <= 10:
        raise UsageError("--passive-read-every must be between 0 and 10 seconds",
                         hint="the server's keepalive pings must be answered well within its 30 s interval")
    if hub not in ("auto", "stack", "own"):
        raise UsageError(f"--hub must be auto, stack or own, not {hub!r}")
    per_worker = runner.CONNECTIONS_PER_WORKER
    if users > runner.MAX_WORKERS * per_worker:
        raise UsageError(f"{users:,} users is more than {runner.MAX_WORKERS} Locust workers of {per_worker:,} "
                         "connections can hold on one machine (20,000 open files each)")
    starts_own_hub = hub == "own" or (hub == "auto" and (users > CONNECTIONS_PER_HUB_WORKER or hub_workers > 0))
    _check_distributed(expect_workers, workers, workers_wait, master_port, own_server=starts_own_hub
                       or (target or SCENARIOS[scenario].targets[0]) in ("node-ws", "socketio", "relay-floor"))
    if workers > 0 and users / workers > per_worker:
        raise UsageError(f"{users:,} users on {workers} workers exceeds {per_worker:,} connections per process "
                         "(20,000 open files each)", hint="raise --workers or leave it at 0")
    from spotctl import project
    from spotctl.endpoints import resolve

    env = dict(resolve().env)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results_dir = (results or project.current().root / "results" / f"{scenario}-{stamp}").resolve()
    request = runner.RunRequest(scenario=scenario, users=users, spawn_rate=spawn_rate, hold_s=hold_s,
                                target_p99_ms=target_p99, results_dir=results_dir, env=env,
                                target=target or "", msg_rate=msg_rate, room_size=room_size,
                                probe_every=probe_every, passive_read_s=passive_read_every, workers=workers,
                                hub=hub, hub_workers=hub_workers,
                                rate_steps=steps, step_s=step_s if steps else 0.0, heartbeat_s=heartbeat,
                                remote_workers=expect_workers,
                                master_bind=master_bind or ("0.0.0.0" if expect_workers else "127.0.0.1"),
                                master_port=master_port or (5557 if expect_workers else 0),
                                workers_wait_s=workers_wait)
    if expect_workers:
        from spotctl.output import info

        info(f"waiting up to {workers_wait:g} s for {expect_workers} worker(s): on each load machine run "
             f"`spotctl load worker --master {request.master_bind}:{request.master_port}` "
             "(with this machine's address instead of 0.0.0.0)")
    from spotctl.output import warn

    for advice in runner.warnings(request):
        warn(advice)
    view = _LiveView(users)
    _terminate_like_ctrl_c()
    try:
        with view:
            outcome = runner.run(request, on_target=view.target, on_progress=view.update)
    except runner.RunError as exc:
        raise SpotctlError(str(exc), hint=f"logs are in {results_dir}") from None
    _report(outcome, output)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _seconds(text: str, flag: str) -> float:
    """'90', '20s', '1m', '1m30s', '1h' -> seconds; anything else is a usage error naming the flag."""
    import re

    from spotctl.errors import UsageError

    value = text.strip().lower()
    parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", value)
    if not value or parts is None:
        raise UsageError(f"{flag} must be a duration like 30, 20s, 1m or 1m30s, not {text!r}")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def _check_distributed(expect_workers: int, workers: int, workers_wait: float, master_port: int,
                       own_server: bool) -> None:
    from spotctl.errors import UsageError

    if expect_workers < 0 or workers < 0 or workers_wait <= 0 or not 0 <= master_port < 65536:
        raise UsageError("--expect-workers and --workers must not be negative, --workers-wait must be positive "
                         "and --master-port a port number")
    if expect_workers and own_server:
        raise UsageError("workers on other machines cannot reach a server this run starts on 127.0.0.1",
                         hint="aim them at a running target they can reach: --hub stack with HUB_URL (or "
                              "--target api with API_URL) set to this machine's address")


def worker(
    master: Annotated[str, typer.Option("--master", help="HOST[:PORT] of a run started with "
                                                         "`spotctl load run --expect-workers N` (port 5557).")],
    processes: Annotated[int, typer.Option("--processes", "-p",
                                           help="Locust worker processes on this machine (one core each; "
                                                "10k connections each at most).")] = 1,
) -> None:
    """Join a load run started on another machine as Locust worker(s); exits when that run ends."""
    import os
    import subprocess
    import tempfile

    from spotctl.errors import SpotctlError, UsageError
    from spotctl.output import info

    host, port = _host_port(master)
    if processes < 1:
        raise UsageError("--processes must be at least 1")
    _loadtests()
    from loadtests import run as runner

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(runner.ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    argv = [sys.executable, "-m", "locust", "-f", "-", "--worker", "--master-host", host,
            "--master-port", str(port), "--loglevel", "WARNING"]
    info(f"joining the load run at {host}:{port} with {processes} worker process(es); "
         "the master sends the scenario and its settings")
    _terminate_like_ctrl_c()
    with tempfile.TemporaryDirectory(prefix="spotctl-load-worker-") as tmp:
        # Locust writes the locustfile it gets from the master into the temp dir: one dir per process,
        # so two workers on one machine never import each other's half-written copy
        procs = []
        for i in range(processes):
            (Path(tmp) / str(i)).mkdir()
            procs.append(subprocess.Popen(argv, env={**env, "TMPDIR": str(Path(tmp) / str(i))}, cwd=runner.ROOT))
        try:
            codes = [proc.wait() for proc in procs]
        except KeyboardInterrupt:
            runner.stop_all(procs)
            raise typer.Exit(130) from None
    if any(codes):
        raise SpotctlError(f"a Locust worker ended with exit code {max(codes)}",
                           hint=f"is a run waiting for workers at {host}:{port}? (`spotctl load run "
                                "--expect-workers N` on that machine)")


def _host_port(text: str) -> tuple[str, int]:
    """HOST, HOST:PORT, [V6]:PORT -> (host, port); the port defaults to Locust's 5557."""
    from spotctl.errors import UsageError

    host, port = text, "5557"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--master must be HOST or HOST:PORT, not {text!r}")
    return host, int(port)


class _LiveView:
    """One live status line on a terminal; a plain line every 10 s otherwise (CI logs stay short)."""

    def __init__(self, users: int) -> None:
        self.users = users
        self.live: Any = None
        self.last_plain = 0.0

    def __enter__(self) -> _LiveView:
        if sys.stderr.isatty():
            from rich.live import Live

            from spotctl.output import err

            self.live = Live("starting…", console=err(), refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def target(self, description: str) -> None:
        from spotctl.output import info

        info(f"target: {description}")

    def update(self, p: dict[str, Any]) -> None:
        from loadtests.present import live_line
        from spotctl.output import err

        line = live_line(p, self.users, max(40, err().width - 1))
        if self.live is not None:
            from rich.text import Text

            self.live.update(Text(line))
        elif time.monotonic() - self.last_plain >= 10:
            self.last_plain = time.monotonic()
            from spotctl.output import info

            info(line)


def _report(outcome: Any, output: OutputFormat) -> None:
    from loadtests.present import summary_rows, verdict
    from spotctl.output import emit, info

    s = outcome.summary
    emit(s, output, ("figure", "value"), summary_rows(s), title=verdict(s))
    if output is OutputFormat.table and s.get("steps"):
        from spotctl.output import print_table

        print_table(("msgs/s", "sent/s", "deliv/s", "p50 ms", "p99 ms", "max ms", "µs/deliv", "gen CPU",
                     "gen µs/deliv"),
                    [(r["offered_msgs_per_s"], r["sent_per_s"], f"{r['deliveries_per_s']:,.0f}", r["p50_ms"],
                      r["p99_ms"], r["max_ms"], _maybe(r.get("server_us_per_delivery")),
                      _maybe(r.get("generator_cpu_max"), "%"), _maybe(r.get("generator_us_per_delivery")))
                     for r in s["steps"]], title="rate steps")
    if output is OutputFormat.table:
        info(f"results: {outcome.results_dir} (report.html, locust_stats.csv, summary.json)")


def _maybe(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def _terminate_like_ctrl_c() -> None:
    """`kill` (SIGTERM) takes the Ctrl-C path, so Locust, our own hub and the minted tokens are cleaned
    up instead of outliving the run."""
    import signal

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
