#!/usr/bin/env python3
"""Set up a fresh machine and run the stack or the tests: the README's two commands.

    python3 scripts/dev.py up      # install, start the stack on the local runtime, run the main job
    python3 scripts/dev.py test    # install, lint, type-check, check import layers, run the test suite

Standard library only, so it runs before anything is installed. On Debian/Ubuntu it installs the
servers the local runtime needs with apt (as root, or through sudo); elsewhere it tells you what to
install and carries on with what is there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")

# binary -> Debian package providing it (postgres is looked for in its versioned folder too)
APT_PACKAGES = {
    "redis-server": "redis-server",
    "rabbitmq-server": "rabbitmq-server",
    "nginx": "nginx-light",
    "initdb": "postgresql",
    "ip": "iproute2",  # the multi-host tests' network namespaces (tests/multihost)
    # observability (on by default in `spotctl up`)
    "prometheus": "prometheus",  # with promtool, which the tests use
    "prometheus-alertmanager": "prometheus-alertmanager",
    "prometheus-node-exporter": "prometheus-node-exporter",
    "prometheus-redis-exporter": "prometheus-redis-exporter",
    "prometheus-postgres-exporter": "prometheus-postgres-exporter",
    "influxd": "influxdb",  # the analytics service's time series (InfluxDB 1.x)
}
# package -> the system service its install starts. The runtime runs its own instances in its own state
# dir, and the system ones would hold the stack's default ports (6379, 5432, 9090, 9093, 9100, ...).
SYSTEM_SERVICES = {
    "redis-server": "redis-server", "rabbitmq-server": "rabbitmq-server", "nginx-light": "nginx",
    "postgresql": "postgresql", "prometheus": "prometheus", "prometheus-alertmanager": "prometheus-alertmanager",
    "prometheus-node-exporter": "prometheus-node-exporter", "prometheus-redis-exporter": "prometheus-redis-exporter",
    "prometheus-postgres-exporter": "prometheus-postgres-exporter", "influxdb": "influxdb",
}


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def run(*args: str | Path, check: bool = True, env: dict[str, str] | None = None) -> int:
    print("$ " + " ".join(str(a) for a in args), flush=True)
    code = subprocess.call([str(a) for a in args], cwd=ROOT, env=env)
    if check and code != 0:
        sys.exit(code)
    return code


def _have(binary: str) -> bool:
    if shutil.which(binary):
        return True
    if binary == "initdb":
        return any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if binary == "rabbitmq-server":
        return Path("/usr/lib/rabbitmq/bin/rabbitmq-server").is_file()
    return Path("/usr/sbin", binary).is_file()


def system_packages() -> None:
    missing = [pkg for binary, pkg in APT_PACKAGES.items() if not _have(binary)]
    if not missing:
        return
    if not shutil.which("apt-get"):
        print(f"note: install these for the local runtime: {', '.join(missing)} "
              "(or use Docker Desktop with `spotctl up --runtime docker`)")
        return
    sudo: list[str] = [] if os.geteuid() == 0 else (["sudo"] if shutil.which("sudo") else [])
    if os.geteuid() != 0 and not sudo:
        print(f"note: run as root or install sudo to apt-get install {' '.join(missing)}")
        return
    step(f"installing {', '.join(missing)} with apt")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(*sudo, "apt-get", "update", "-qq", env=env)
    # policy-rc.d-less machines would start the system services; the runtime runs its own instances
    run(*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, env=env)
    # only what this install brought: a server the user already ran stays as it was
    for service in (SYSTEM_SERVICES[pkg] for pkg in missing if pkg in SYSTEM_SERVICES):
        if Path("/run/systemd/system").is_dir():  # stopped and kept from starting at the next boot
            command = [*sudo, "systemctl", "disable", "--now", service]
        elif shutil.which("service"):
            command = [*sudo, "service", service, "stop"]
        else:
            continue
        subprocess.call(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def python_env() -> None:
    if not PYTHON.exists():
        step(f"creating {VENV.name}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    marker = VENV / ".spotctl-installed"
    stamp = str((ROOT / "pyproject.toml").stat().st_mtime)
    if marker.exists() and marker.read_text() == stamp:
        return
    step("installing spotctl and its dependencies")
    run(PYTHON, "-m", "pip", "install", "-q", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "-q", "-e", ".[dev]")
    marker.write_text(stamp)


def spotctl(*args: str, check: bool = True) -> int:
    return run(BIN / ("spotctl.exe" if os.name == "nt" else "spotctl"), *args, check=check)


def cmd_up() -> None:
    system_packages()
    python_env()
    step("starting the stack (local runtime unless a docker engine answers)")
    spotctl("up")
    step("main job: seed the catalogue, then walk flow 1 (play a song) through every store")
    spotctl("seed")
    spotctl("scenario", "run", "quickstart", "--yes")
    step("done: `spotctl ps` shows the stack, `spotctl tui` opens the dashboard, `spotctl down` stops it")
    spotctl("ps")


def cmd_test() -> None:
    system_packages()
    python_env()
    step("lint, types and import layers")
    run(BIN / "ruff", "check", ".")
    run(BIN / "mypy")
    run(BIN / "lint-imports")  # the layers in pyproject.toml / docs/ARCHITECTURE.md
    step("tests (the suite starts its own stack on ports 20000-30000 and stops it afterwards)")
    code = run(PYTHON, "-m", "pytest", "--durations=25", *sys.argv[2:], check=False)  # CI's log names the slow
    sys.exit(code)


def main() -> None:
    commands = {"up": cmd_up, "test": cmd_test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        sys.exit(2)
    commands[sys.argv[1]]()


if __name__ == "__main__":
    main()
