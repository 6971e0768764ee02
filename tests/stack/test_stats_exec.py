"""`spotctl stats` and `spotctl exec` on the local runtime, against the test stack's redis: real processes,
real numbers, the command's own exit code."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spotctl.stack import execute
from tests.conftest import TEST_PORTS

pytestmark = pytest.mark.stack

Cli = Callable[..., Any]
REDIS_PORT = str(TEST_PORTS["REDIS"])


def test_stats_gives_the_cpu_and_memory_a_busy_redis_uses(stack: Any, cli: Cli) -> None:
    import psutil
    import redis

    pid = json.loads(cli("ps", "redis", "-o", "json").stdout)["services"]["redis"]["pid"]
    client = redis.Redis.from_url(stack.env["REDIS_URL"], socket_timeout=30)
    busy = threading.Thread(target=client.eval, args=("local i = 0 while i < 3e8 do i = i + 1 end", 0))
    busy.start()  # a few seconds of one core inside redis-server
    try:
        result = cli("stats", "redis", "-o", "json")
    finally:
        busy.join()
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["runtime"] == "local" and list(report["services"]) == ["redis"]
    used = report["services"]["redis"]
    assert used["cpu_percent"] > 20, used  # of one core, over the second it measured
    rss = psutil.Process(pid).memory_info().rss
    assert 0.5 * rss < used["rss_bytes"] < 2 * rss, (used, rss)


def test_stats_table_fits_80_columns_and_names_only_running_services(stack: Any, cli: Cli) -> None:
    result = cli("stats", "-o", "table", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80 and any("SERVICE" in line and "CPU %" in line for line in lines)
    cells = [line.strip("│┃ ").split() for line in lines]
    shown = {row[0] for row in cells if row and row[0] in stack.runtime.compose.services}
    assert "redis" in shown and "mongo" not in shown  # absent here: nothing to measure


def test_stats_of_an_unknown_or_stopped_service_says_so(stack: Any, cli: Cli, tmp_path: Path) -> None:
    unknown = cli("stats", "nope")
    assert unknown.returncode == 2 and "unknown service: nope" in unknown.stderr
    stopped = cli("stats", "redis", "mongo")
    assert stopped.returncode == 1 and "not running: mongo" in stopped.stderr
    empty = cli("stats", "--runtime", "local", env={"SPOTCTL_STATE_DIR": str(tmp_path)})
    assert empty.returncode == 1 and "the stack is not running" in empty.stderr and "spotctl up" in empty.stderr


def test_exec_runs_a_command_beside_redis(stack: Any, cli: Cli) -> None:
    result = cli("exec", "redis", "--", "redis-cli", "-p", REDIS_PORT, "ping")
    assert (result.returncode, result.stdout.strip()) == (0, "PONG"), result.stderr
    # without `--` too: everything after SERVICE is the command's, its options included
    assert cli("exec", "redis", "redis-cli", "-p", REDIS_PORT, "ping").stdout.strip() == "PONG"


def test_exec_passes_the_exit_code_and_runs_in_the_services_folder(stack: Any, cli: Cli) -> None:
    code = "import os, sys; print(os.getcwd()); sys.exit(3)"
    result = cli("exec", "redis", "--", sys.executable, "-c", code)
    assert result.returncode == 3, result.stderr
    assert Path(result.stdout.strip()) == (stack.state_dir / "data" / "volumes" / "redis-data").resolve()


def test_exec_says_what_is_wrong_with_its_input(stack: Any, cli: Cli) -> None:
    unknown = cli("exec", "nope", "--", "true")
    assert unknown.returncode == 2 and "unknown service: nope" in unknown.stderr and "hint:" in unknown.stderr
    bare = cli("exec", "redis")
    assert bare.returncode == 2 and "no command to run" in bare.stderr and "spotctl exec redis --" in bare.stderr
    missing = cli("exec", "redis", "--", "no-such-program")
    assert missing.returncode == 127 and "no-such-program: command not found" in missing.stderr
    absent = cli("exec", "mongo", "--", "mongosh")
    assert absent.returncode == 1 and "mongo is not running" in absent.stderr


def test_the_command_gets_what_the_service_was_started_with() -> None:
    env = execute.environment({"PATH": "/usr/bin", "PORT": "18000"},
                              {"PORT": "8000", "DATABASE_URL": "postgresql://127.0.0.1:15432/spotify"},
                              "/opt/venv/bin/python")
    assert env["PORT"] == "18000" and env["DATABASE_URL"].endswith(":15432/spotify")
    assert env["PATH"].split(os.pathsep) == [str(Path("/opt/venv/bin")), "/usr/bin"]  # its own binaries first
