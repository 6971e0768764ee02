"""How long `spotctl up` takes (cold, warm, attach) and how fast `spotctl --help` answers.

Not a test: prints figures for docs/BENCHMARKS.md. Runs its own stack in a temporary state dir on
ports 16600+ so a running stack on the default ports is left alone. `spotctl up` starts the core
stack and its observability (the default); `--profile core` (measured too) leaves observability out.

    .venv/bin/python benchmarks/stack_up.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORTS = {"REDIS": 16600, "POSTGRES": 16601, "RABBITMQ": 16602, "RABBITMQ_MGMT": 16603, "KAFKA": 16604,
         "MONGO": 16605, "API": 16606, "HUB": 16607, "HUB_METRICS": 16608, "WORKERS": 16609, "SMTP": 16610,
         "PUSH": 16611, "GATEWAY_HTTP": 16612, "GATEWAY_HTTPS": 16613, "PROMETHEUS": 16614, "GRAFANA": 16615,
         "RABBITMQ_METRICS": 16616, "ALERTMANAGER": 16617, "NODE_EXPORTER": 16618, "REDIS_EXPORTER": 16619,
         "POSTGRES_EXPORTER": 16620, "MONITOR": 16621}


def spotctl(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "spotctl", *args], env=env, cwd=ROOT,
                            capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"spotctl {' '.join(args)} failed:\n{result.stderr}")
    return elapsed


def help_times(runs: int) -> list[float]:
    exe = Path(sys.executable).parent / "spotctl"
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(exe), "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="spotctl-bench-"))
    state.chmod(0o755)
    env = {**os.environ, "SPOTCTL_STATE_DIR": str(state), "NO_COLOR": "1",
           **{f"SPOTCTL_{k}_PORT": str(v) for k, v in PORTS.items()}}
    cold, warm, attach, cold_core = [], [], [], []
    try:
        for _ in range(args.runs):
            spotctl(env, "down", "--volumes", "--yes")
            cold.append(spotctl(env, "up"))
            attach.append(spotctl(env, "up"))
            spotctl(env, "down")
            warm.append(spotctl(env, "up"))
            spotctl(env, "down", "--volumes", "--yes")
            cold_core.append(spotctl(env, "up", "--profile", "core"))
    finally:
        spotctl(env, "down", "--volumes", "--yes")
    helps = help_times(20)
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
          f"python {platform.python_version()}, load {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print("| measure | runs | median s | min s | max s |")
    print("|---|---|---|---|---|")
    for name, values in (("`spotctl up` cold (fresh data, core + observability healthy)", cold),
                         ("`spotctl up --profile core` cold (without observability)", cold_core),
                         ("`spotctl up` warm (data kept, processes stopped)", warm),
                         ("`spotctl up` attach (already running)", attach),
                         ("`spotctl --help`", helps)):
        print(f"| {name} | {len(values)} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |")


if __name__ == "__main__":
    main()
