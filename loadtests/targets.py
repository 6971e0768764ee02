"""The servers a run aims at: the stack's hub, a hub tree of our own, or a baseline peer.

Each target is started (or found) before Locust and stopped after it; `describe` is printed so the
user always knows which server the figures belong to.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil

BASELINES = Path(__file__).resolve().parent / "baselines"
CONNECTIONS_PER_HUB_WORKER = 12_500   # stays well under 20,000 fds per process
STARTUP_TIMEOUT_S = 60.0
REDIS_POOL = 1024                     # per hub worker process


class TargetError(Exception):
    """The target server could not be found or started; the message says why and what to do."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def hub_workers_for(users: int) -> int:
    return max(2, math.ceil(users / CONNECTIONS_PER_HUB_WORKER))


@dataclass
class Target:
    kind: str                      # hub | node-ws | socketio | relay-floor
    url: str                       # what the clients dial
    health_url: str
    describe: str
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    pids: tuple[int, ...] = ()     # a running server's processes on this machine (the stack's hub)

    def server_pids(self) -> list[int]:
        """The processes whose CPU and memory the sampler reports as the server's."""
        return [self.process.pid] if self.process is not None else list(self.pids)

    def stop(self) -> None:
        """Stop the process tree we started (a hub supervisor takes its workers with it)."""
        if self.process is None or self.process.poll() is not None:
            return
        if hasattr(os, "killpg"):  # POSIX: the session we started it in
            os.killpg(self.process.pid, signal.SIGTERM)
        else:
            self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            for child in _children(self.process.pid):
                child.kill()
            self.process.kill()
            self.process.wait(5)


def _children(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def local_hub_pids(health: dict[str, object], hub_url: str) -> tuple[int, ...]:
    """The hub's worker pids from its /health, when it runs on this machine (a pid from a container or
    another host would name some other process here)."""
    host = urlsplit(hub_url).hostname or ""
    if host != "localhost" and not host.startswith("127."):
        return ()
    found = []
    for pid in dict(health.get("pids") or {}).values():  # type: ignore[call-overload]
        try:
            if "spotctl_sandbox.hub" in " ".join(psutil.Process(int(pid)).cmdline()):
                found.append(int(pid))
        except (psutil.Error, ValueError):
            continue
    return tuple(found)


def _spawn(kind: str, argv: list[str], env: dict[str, str], health: str, log: Path,
           cwd: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                start_new_session=True)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not healthy(health):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise TargetError(f"{kind} did not become healthy at {health}; see {log}")
        time.sleep(0.3)
    return proc


def stack_hub(hub_url: str, metrics_url: str, users: int) -> Target:
    """The running hub, if it has enough worker processes for `users` connections."""
    health = metrics_url.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(health, timeout=2) as resp:
            state = json.loads(resp.read())
        workers = int(state.get("workers", 1))
    except (OSError, ValueError):
        raise TargetError(f"the stack's hub does not answer at {health}; start it with `spotctl up hub`, "
                          "or let the run start its own with --hub own") from None
    if users > workers * CONNECTIONS_PER_HUB_WORKER:
        raise TargetError(f"the stack's hub runs {workers} workers: too few for {users:,} connections "
                          f"({CONNECTIONS_PER_HUB_WORKER:,} each at most); use --hub own (--hub-workers "
                          f"{hub_workers_for(users)}) or restart it with HUB_WORKERS={hub_workers_for(users)}")
    return Target("hub", hub_url, health, f"the stack's hub ({workers} workers) at {hub_url}",
                  pids=local_hub_pids(state, hub_url))


def with_pool(redis_url: str, size: int) -> str:
    """Raise the Redis pool via the URL (redis-py lets URL options win over the code's own 64)."""
    if "max_connections=" in redis_url:
        return redis_url
    return f"{redis_url}{'&' if '?' in redis_url else '?'}max_connections={size}"


def own_hub(env: dict[str, str], workers: int, results: Path, root: Path) -> Target:
    """A hub process tree of our own, with HUB_WORKERS raised for the connection count.

    Its Redis pool is raised too: at a few hundred connects/s the hub's default pool of 64 runs dry
    (MaxConnectionsError in the auth step) and handshakes fail.
    """
    port, metrics_port = free_port(), free_port()
    child_env = {**os.environ, **env, "PORT": str(port), "METRICS_PORT": str(metrics_port),
                 "HUB_WORKERS": str(workers), "REDIS_URL": with_pool(env.get("REDIS_URL", ""), REDIS_POOL)}
    health = f"http://127.0.0.1:{metrics_port}/health"
    proc = _spawn("hub", [sys.executable, "-m", "spotctl_sandbox.hub"], child_env, health,
                  results / "hub.log", root)
    url = f"ws://127.0.0.1:{port}/ws"
    return Target("hub", url, health, f"our own hub ({workers} workers, pid {proc.pid}) at {url}",
                  proc, child_env)


def node_ws(results: Path) -> Target:
    folder = BASELINES / "node-ws"
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None:
        raise TargetError("node is not installed; the node-ws baseline needs Node.js 18+")
    if not (folder / "node_modules" / "ws").is_dir():
        if npm is None:
            raise TargetError(f"{folder}/node_modules is missing and npm is not installed")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=folder, check=True, timeout=300,
                       stdout=subprocess.DEVNULL)
    port = free_port()
    health = f"http://127.0.0.1:{port}/health"
    proc = _spawn("node-ws", [node, "server.js"], {**os.environ, "PORT": str(port)}, health,
                  results / "node-ws.log", folder)
    url = f"ws://127.0.0.1:{port}/"
    return Target("node-ws", url, health, f"baseline: Node ws (1 process, pid {proc.pid}) at {url}", proc)


def socketio(results: Path) -> Target:
    port = free_port()
    health = f"http://127.0.0.1:{port}/health"
    proc = _spawn("socketio", [sys.executable, str(BASELINES / "socketio_server.py")],
                  {**os.environ, "PORT": str(port)}, health, results / "socketio.log", BASELINES)
    url = f"ws://127.0.0.1:{port}/"
    return Target("socketio", url, health,
                  f"baseline: python-socketio on uvicorn (1 process, pid {proc.pid}) at {url}", proc)


def relay_floor(results: Path, env: dict[str, str]) -> Target:
    """The hub's per-message duties alone on picows (baselines/relay_floor.py): needs the stack's Redis."""
    redis_url = env.get("REDIS_URL", "")
    if not redis_url:
        raise TargetError("the relay-floor baseline needs Redis: start it with `spotctl up redis` or set REDIS_URL")
    port = free_port()
    health = f"http://127.0.0.1:{port}/health"
    proc = _spawn("relay-floor", [sys.executable, str(BASELINES / "relay_floor.py")],
                  {**os.environ, "PORT": str(port), "REDIS_URL": redis_url}, health, results / "relay-floor.log",
                  BASELINES)
    url = f"ws://127.0.0.1:{port}/"
    return Target("relay-floor", url, health,
                  f"baseline: the hub's per-message floor on picows (pid {proc.pid}) at {url}", proc)
