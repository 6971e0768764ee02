"""The hub runs where there is no `os.fork` (Windows): its workers are started as fresh interpreters.

The hub is started in an interpreter whose `os` has no `fork`, as on Windows, against the test stack's
Redis and PostgreSQL; it must report its workers ready, run them as `spotctl_sandbox.hub.worker`
processes and accept WebSocket upgrades.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
from websockets.sync.client import connect

from spotctl_sandbox.hub.supervisor import plan

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
WITHOUT_FORK = "import os, runpy; del os.fork; runpy.run_module('spotctl_sandbox.hub', run_name='__main__')"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _health(port: int) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as resp:
            return dict(json.loads(resp.read()))
    except (OSError, ValueError):
        return {}


def test_the_platform_decides_fork_or_spawn_and_how_many_workers_share_the_port() -> None:
    assert plan(4, can_fork=True, can_share_port=True) == ("fork", 4)
    assert plan(4, can_fork=False, can_share_port=True) == ("spawn", 4)
    assert plan(4, can_fork=False, can_share_port=False) == ("spawn", 1)  # Windows


def test_a_hub_without_fork_spawns_its_workers_and_serves(stack: Any, tmp_path: Path) -> None:
    stack.up("redis", "postgres")
    port, metrics_port = _free_port(), _free_port()
    env = {**stack.env, "PORT": str(port), "METRICS_PORT": str(metrics_port), "HUB_WORKERS": "2"}
    with (tmp_path / "hub.log").open("wb") as log:
        hub = subprocess.Popen([sys.executable, "-c", WITHOUT_FORK], env=env, stdout=log, stderr=subprocess.STDOUT,
                               cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while _health(metrics_port).get("status") != "ok":
            assert hub.poll() is None and time.monotonic() < deadline, (tmp_path / "hub.log").read_text()
            time.sleep(0.2)
        health = _health(metrics_port)
        assert health["ready"] == 2
        workers = [psutil.Process(int(pid)) for pid in health["pids"].values()]
        assert all(w.ppid() == hub.pid and "spotctl_sandbox.hub.worker" in w.cmdline() for w in workers)
        with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10) as ws:  # the upgrade is answered
            assert ws.protocol.state.name == "OPEN"
    finally:
        hub.terminate()
        assert hub.wait(30) == 0
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
