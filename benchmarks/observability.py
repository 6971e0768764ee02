"""What observability costs and how fast it tells: CPU and RSS of Prometheus, Alertmanager, the
exporters and the monitor at idle, then seconds from a killed store (PostgreSQL, SIGKILL) to its
alert's email in the SMTP sink, with the production timings of compose/ (not SPOTCTL_FAST_ALERTS).

Not a test: prints figures for docs/BENCHMARKS.md. Runs its own stack in a temporary state dir on
ports 16700+ so a running stack is left alone.

    .venv/bin/python benchmarks/observability.py [--idle 60]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle sampling")
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
        print("| process | CPU % of one core | RSS MiB |")
        print("|---|---|---|")
        for name in MEASURED:
            if name in procs:
                cpu = (cpu_seconds(procs[name]) - before[name]) / args.idle * 100
                print(f"| {name} | {cpu:.2f} | {rss_mib(procs[name]):.0f} |")

        postgres = json.loads(spotctl(env, "ps", "-o", "json", "postgres").stdout)["services"]["postgres"]["pid"]
        os.kill(postgres, signal.SIGKILL)
        killed = time.monotonic()

        def mailed(subject: str) -> bool:
            try:
                return any(subject in m["subject"] for m in get(sinks)["messages"])
            except OSError:
                return False

        fired = wait("the PostgresDown email", lambda: mailed("[FIRING] PostgresDown"), 300)
        spotctl(env, "up", "postgres")
        back = time.monotonic()
        resolved = wait("the resolved email", lambda: mailed("[RESOLVED] PostgresDown"), 300)
        print(f"\nkill -9 postgres -> [FIRING] PostgresDown email: {fired:.1f} s "
              f"(scrape 10 s + `for: 30s` + evaluation 10 s + group_wait 10 s)")
        print(f"postgres up again -> [RESOLVED] email: {resolved:.1f} s (up took {back - killed - fired:.1f} s)")
    finally:
        spotctl(env, "down", "--volumes", "--yes")
        print(f"load at end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
