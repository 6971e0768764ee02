"""What observability costs and how fast it tells: CPU and RSS of Prometheus, Alertmanager, the
exporters and the monitor at idle and under the rooms-of-50 load (`--load`), then seconds from a
stopped store (PostgreSQL) to its alert's email in the SMTP sink, with the production timings
of compose/ (not SPOTCTL_FAST_ALERTS).

Not a test: prints figures for docs/BENCHMARKS.md. Runs its own stack in a temporary state dir on
ports 16700+ so a running stack is left alone.

    .venv/bin/python benchmarks/observability.py [--idle 60] [--load 60 --load-rate 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("REDIS", "POSTGRES", "RABBITMQ", "RABBITMQ_MGMT", "KAFKA", "MONGO", "API", "HUB", "HUB_METRICS", "WORKERS",
         "SMTP", "PUSH", "GATEWAY_HTTP", "GATEWAY_HTTPS", "PROMETHEUS", "GRAFANA", "RABBITMQ_METRICS", "ALERTMANAGER",
         "NODE_EXPORTER", "REDIS_EXPORTER", "POSTGRES_EXPORTER", "MONITOR")
PORTS = {name: 16700 + i for i, name in enumerate(NAMES)}
MEASURED = ("prometheus", "alertmanager", "node-exporter", "redis-exporter", "postgres-exporter", "monitor",
            "rabbitmq", "api", "hub", "workers")


def spotctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "spotctl", *args], env=env, cwd=ROOT, capture_output=True,
                            text=True, check=False)
    if result.returncode != 0 and args[0] not in ("down",):
        sys.exit(f"spotctl {' '.join(args)} failed:\n{result.stderr}")
    return result


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def family(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def rss_mib(procs: list[psutil.Process]) -> float:
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def wait(what: str, check: Any, timeout: float) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.5)
    return time.monotonic() - started


def table(procs: dict[str, list[psutil.Process]], before: dict[str, float], seconds: float) -> None:
    print("| process | CPU % of one core | RSS MiB |")
    print("|---|---|---|")
    for name in MEASURED:
        if name in procs:
            cpu = (cpu_seconds(procs[name]) - before[name]) / seconds * 100
            print(f"| {name} | {cpu:.2f} | {rss_mib(procs[name]):.0f} |")


def under_load(env: dict[str, str], procs: dict[str, list[psutil.Process]], seconds: float, users: int,
               rate: float) -> None:
    """The same table while `spotctl load run latency` drives rooms of 50 on the stack's own hub: the
    scrapes then carry the hub's busy series, and the exporters see a working Redis and PostgreSQL."""
    procs = {name: family(p[0].pid) for name, p in procs.items()}  # the hub's workers may have been replaced
    load = subprocess.Popen([sys.executable, "-m", "spotctl", "load", "run", "latency", "--users", str(users),
                             "--spawn-rate", "500", "--room-size", "50", "--msg-rate", str(rate), "--duration",
                             f"{seconds + 15:.0f}s", "--heartbeat", "0", "--passive-read-every", "2", "--hub", "stack",
                             "--results", str(Path(env["SPOTCTL_STATE_DIR"]) / "load")],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(users / 500 + 10)  # the ramp, and the first scrapes of a busy hub
    before = {name: cpu_seconds(p) for name, p in procs.items()}
    time.sleep(seconds)
    print(f"\nunder load {seconds:.0f} s: {users} users in rooms of 50, {rate:.0f} messages/s "
          f"({rate * 50:.0f} deliveries/s) (load now {' '.join(f'{x:.1f}' for x in os.getloadavg())})")
    table(procs, before, seconds)
    out, _ = load.communicate(timeout=600)
    print("load run, last lines:\n" + "\n".join(out.splitlines()[-12:]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle sampling")
    parser.add_argument("--load", type=float, default=0.0,
                        help="seconds of rooms-of-50 load on the stack's hub after the idle phase (0: none)")
    parser.add_argument("--load-users", type=int, default=2000)
    parser.add_argument("--load-rate", type=float, default=100.0, help="room messages/s (x50 deliveries)")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="spotctl-bench-obs-"))
    state.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "SPOTCTL_FAST_ALERTS"}
    env.update({"SPOTCTL_STATE_DIR": str(state), "NO_COLOR": "1", **{f"SPOTCTL_{k}_PORT": str(v)
                                                                      for k, v in PORTS.items()}})
    prometheus = f"http://127.0.0.1:{PORTS['PROMETHEUS']}"
    sinks = f"http://127.0.0.1:{PORTS['WORKERS']}/sinks/email?limit=200"
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, load at start "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    try:
        spotctl(env, "down", "--volumes", "--yes")
        spotctl(env, "up")
        wait("Prometheus' first scrapes", lambda: len(get(f"{prometheus}/api/v1/query?query=up")["data"]["result"])
             >= 10, 60)
        pids = {name: svc["pid"] for name, svc in json.loads(spotctl(env, "ps", "-o", "json").stdout)["services"]
                .items() if name in MEASURED and svc.get("pid")}
        procs = {name: family(pid) for name, pid in pids.items()}
        before = {name: cpu_seconds(p) for name, p in procs.items()}
        time.sleep(args.idle)
        print(f"\nidle {args.idle:.0f} s, production scrape interval 10 s "
              f"(load now {' '.join(f'{x:.1f}' for x in os.getloadavg())})")
        table(procs, before, args.idle)

        if args.load:
            under_load(env, procs, args.load, args.load_users, args.load_rate)

        # stopped, not killed: the supervisor brings a killed server back within seconds, before `for: 30s`
        spotctl(env, "down", "postgres")
        stopped = time.monotonic()

        def mailed(subject: str) -> bool:
            try:
                return any(subject in m["subject"] for m in get(sinks)["messages"])
            except OSError:
                return False

        fired = wait("the PostgresDown email", lambda: mailed("[FIRING] PostgresDown"), 300)
        spotctl(env, "up", "postgres")
        back = time.monotonic()
        resolved = wait("the resolved email", lambda: mailed("[RESOLVED] PostgresDown"), 300)
        print(f"\npostgres stopped -> [FIRING] PostgresDown email: {fired:.1f} s "
              f"(scrape 10 s + `for: 30s` + evaluation 10 s + group_wait 10 s)")
        print(f"postgres up again -> [RESOLVED] email: {resolved:.1f} s (up took {back - stopped - fired:.1f} s)")
    finally:
        spotctl(env, "down", "--volumes", "--yes")
        print(f"load at end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
