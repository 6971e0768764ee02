"""The stack's supervisor against real servers, driven only through the CLI on a stack of its own."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import SPARE_PORTS

pytestmark = pytest.mark.stack

OWN_PORTS = dict(zip(("REDIS", "RABBITMQ", "RABBITMQ_MGMT", "RABBITMQ_METRICS"), SPARE_PORTS, strict=False))


@pytest.fixture
def own(tmp_path: Path, cli: Callable[..., Any]) -> Iterator[Any]:
    env = {"SPOTCTL_STATE_DIR": str(tmp_path / "state"), **{f"SPOTCTL_{k}_PORT": str(v) for k, v in OWN_PORTS.items()}}

    def run(*args: str) -> Any:
        return cli(*args, env=env)

    run.state = tmp_path / "state"  # type: ignore[attr-defined]
    yield run
    run("down")


def status(own: Any, service: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(own("ps", "-o", "json", service).stdout)["services"][service]
    return result


def wait_until(own: Any, service: str, check: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        current = status(own, service)
        if check(current):
            return current
        assert time.monotonic() < deadline, f"{service} never got there: {current}"
        time.sleep(0.3)


def ours(state: Path) -> list[psutil.Process]:
    """Every live process that carries this stack's environment marker."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("SPOTCTL_STACK") == str(state.resolve()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_killed_servers_come_back_and_ps_says_why(own: Any) -> None:
    assert own("up", "redis", "rabbitmq").returncode == 0
    before = status(own, "rabbitmq")
    assert psutil.Process(before["pid"]).name() == "beam.smp"  # the broker itself, no /bin/sh parent
    assert before["restarts"] == 0

    os.kill(before["pid"], signal.SIGKILL)
    killed = own("chaos", "kill", "redis", "--yes", "-o", "json")
    assert killed.returncode == 0, killed.stderr

    redis = wait_until(own, "redis", lambda s: s["status"] == "healthy" and s["restarts"] == 1)
    supervisor_log = (own.state / "logs" / "_supervisor.log").read_text()
    assert redis["last_exit"] == "killed by SIGKILL", supervisor_log
    rabbit = wait_until(own, "rabbitmq", lambda s: s["status"] == "healthy" and s["restarts"] == 1)
    assert rabbit["pid"] != before["pid"] and psutil.Process(rabbit["pid"]).name() == "beam.smp"
    table = own("ps", "redis").stdout
    assert "last exit: killed by SIGKILL" in table


def test_a_crashing_server_shows_its_exit_code_and_log_line_and_heals_when_fixed(own: Any) -> None:
    assert own("up", "redis").returncode == 0
    manifest = next((own.state / "data" / "volumes" / "redis-data").glob("appendonlydir/*.manifest"))
    good = manifest.read_bytes()
    manifest.write_bytes(b"this is not a manifest\n")
    own("chaos", "kill", "redis", "--yes")

    crashed = wait_until(own, "redis", lambda s: s["restarts"] >= 2 and "exit code 1" in s.get("last_exit", ""))
    assert "manifest" in crashed["last_exit"].lower()  # redis's own last words, from its log
    manifest.write_bytes(good)
    healed = wait_until(own, "redis", lambda s: s["status"] == "healthy")
    assert healed["restarts"] >= 2


def test_chaos_stop_holds_it_down_until_resume_and_pause_thaws_by_itself(own: Any) -> None:
    assert own("up", "redis").returncode == 0
    assert own("chaos", "stop", "redis", "--yes").returncode == 0
    time.sleep(1.5)  # several supervisor ticks: a stop on purpose is not a crash
    held = status(own, "redis")
    assert held["state"] == "stopped" and held["restarts"] == 0
    assert own("chaos", "resume", "redis").returncode == 0
    wait_until(own, "redis", lambda s: s["status"] == "healthy")

    assert own("chaos", "pause", "redis", "--for", "2", "--yes").returncode == 0
    paused = status(own, "redis")
    assert paused["state"] == "paused"
    assert psutil.Process(paused["pid"]).status() == psutil.STATUS_STOPPED
    thawed = wait_until(own, "redis", lambda s: s["status"] == "healthy")
    assert thawed["pid"] == paused["pid"] and thawed["restarts"] == 0


def test_chaos_refuses_unknown_services_and_unconfirmed_faults(own: Any) -> None:
    assert own("up", "redis").returncode == 0
    unknown = own("chaos", "kill", "nope", "--yes")
    assert unknown.returncode == 2 and "unknown service: nope" in unknown.stderr and "redis, postgres" in unknown.stderr
    unconfirmed = own("chaos", "kill", "redis")
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    assert status(own, "redis")["restarts"] == 0


def test_orphaned_servers_are_found_by_up_and_down_and_down_leaves_nothing(own: Any) -> None:
    assert own("up", "redis").returncode == 0
    run = own.state / "run"

    def lose_track() -> int:
        """What a crash of spotctl's own bookkeeping leaves: a live server nobody has a record of."""
        os.kill(json.loads((run / "_supervisor.json").read_text())["pid"], signal.SIGKILL)
        pid = int(json.loads((run / "redis.json").read_text())["pid"])
        for name in ("redis.json", "redis.spec.json", "_supervisor.json"):
            (run / name).unlink()
        return pid

    orphan = lose_track()
    again = own("up", "redis", "-o", "json")
    assert again.returncode == 0, again.stderr
    assert "orphaned" in again.stderr
    assert not psutil.pid_exists(orphan) or psutil.Process(orphan).status() == psutil.STATUS_ZOMBIE
    assert json.loads(again.stdout)["services"]["redis"]["pid"] != orphan

    orphan = lose_track()
    down = own("down")
    assert down.returncode == 0 and f"orphaned servers of this stack (pid {orphan})" in down.stderr
    time.sleep(0.5)
    assert ours(own.state) == []
    assert not (run / "_supervisor.json").exists()


def test_up_on_a_running_stack_whose_supervisor_died_brings_one_back_that_adopts_it(own: Any) -> None:
    assert own("up", "redis").returncode == 0
    run = own.state / "run"
    os.kill(json.loads((run / "_supervisor.json").read_text())["pid"], signal.SIGKILL)
    pid = status(own, "redis")["pid"]
    again = own("up", "redis")
    assert again.returncode == 0 and "attaching" in again.stderr
    assert status(own, "redis")["pid"] == pid  # attached, not restarted

    os.kill(pid, signal.SIGKILL)  # not a child of the new supervisor: it sees the exit, not its code
    adopted = wait_until(own, "redis", lambda s: s["status"] == "healthy" and s["restarts"] == 1)
    assert adopted["last_exit"].startswith("exited (exit status unknown")
