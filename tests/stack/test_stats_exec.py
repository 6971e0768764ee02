"""`spotctl stats` on the local runtime, against the test stack's redis: real processes, real numbers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.stack

Cli = Callable[..., Any]


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
