"""Every scenario, tiny and short, through `spotctl load run`: the big runs are benchmarks, these keep
the scenarios working. Each asserts on summary.json (and Locust's CSV where the scenario says more)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from .conftest import ROOT, SPOTCTL

pytestmark = pytest.mark.stack
SHORT = ("--spawn-rate", "40", "--duration", "2s")


@pytest.fixture(scope="module")
def hub(stack: Any) -> None:
    stack.up("hub")


def test_connections_are_opened_held_and_counted(hub: None, load_run: Callable[..., Any]) -> None:
    run = load_run("connections", "--users", "30", "--hub", "stack", *SHORT)
    assert run.code == 0, run.summary.get("checks") or run.stderr
    s = run.summary
    assert (s["scenario"], s["passed"], s["connections_peak"], s["drops"], s["handshake_failures"]) == \
        ("connections", True, 30, 0, 0)
    assert s["connect_samples"] == 30 and 0 < s["connect_p50_ms"] <= s["connect_p99_ms"] <= s["connect_max_ms"]
    assert (run.results / "report.html").is_file() and (run.results / "locust_stats_history.csv").is_file()
    assert 'id="spotctl"' in (run.results / "report.html").read_text()  # spotctl's checks above Locust's page


def test_generator_and_server_cpu_and_memory_are_really_sampled(hub: None, load_run: Callable[..., Any]) -> None:
    """The void-run guard needs the generator's CPU; the report needs the server's (the stack's hub here)."""
    import csv

    run = load_run("latency", "--users", "20", "--room-size", "10", "--msg-rate", "20", "--hub", "stack",
                   "--target-p99", "2000", *SHORT)
    assert run.code == 0, run.summary.get("checks") or run.stderr
    assert run.summary["generator_cpu_max"] > 0
    with (run.results / "samples.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows and max(float(r["server_rss_mb"]) for r in rows) > 0
    assert max(float(r["locust_rss_mb"]) for r in rows) > 0
    assert run.summary["server_rss_mb_max"] > 0


def test_latency_defaults_pass_against_the_default_hub(hub: None, load_run: Callable[..., Any]) -> None:
    """`load run latency --users 50` as a user types it: one room, and its leader within the hub's limits."""
    run = load_run("latency", "--users", "50", "--hub", "stack", "--target-p99", "5000", *SHORT)
    assert run.code == 0, run.summary.get("checks") or run.stderr
    s = run.summary
    assert s["drops"] == 0 and s["sent"] > 0
    assert s["hub_rate_limited"] is not None and sum(s["hub_rate_limited"].values()) == 0


def test_a_rate_over_the_hubs_limit_is_warned_and_its_closes_and_rejections_reported(
        hub: None, load_run: Callable[..., Any]) -> None:
    run = load_run("latency", "--users", "10", "--room-size", "10", "--msg-rate", "100", "--hub", "stack",
                   "--target-p99", "5000", "--spawn-rate", "40", "--duration", "4s")
    assert run.code == 1
    assert "the hub accepts 20/s per connection" in run.stderr
    s = run.summary
    assert s["hub_rate_limited"]["connection"] > 0 and s["close_codes"].get("1013", 0) >= 1
    failed = {c["name"]: c["detail"] for c in s["checks"] if not c["ok"]}
    assert "1013 try again later: the hub's rate limit" in failed["drops"] and "rate limits" in failed


def test_latency_on_the_hub_is_measured_from_scheduled_send_times(hub: None,
                                                                  load_run: Callable[..., Any]) -> None:
    run = load_run("latency", "--users", "30", "--room-size", "10", "--msg-rate", "30", "--probe-every", "2",
                   "--hub", "stack", "--target-p99", "2000", *SHORT)
    assert run.code == 0, run.summary.get("checks") or run.stderr
    s = run.summary
    assert s["passed"] and s["sent"] > 0 and s["messages"] >= s["sent"]
    assert 0 < s["p50_ms"] <= s["p99_ms"] <= s["max_ms"] and s["latency_samples"] > 0
    assert (run.results / "latency.hgrm").is_file()


def test_passive_receivers_can_be_read_paced_and_every_delivery_is_still_counted(
        hub: None, load_run: Callable[..., Any]) -> None:
    run = load_run("latency", "--users", "30", "--room-size", "10", "--msg-rate", "30", "--probe-every", "3",
                   "--passive-read-every", "0.5", "--hub", "stack", "--target-p99", "2000", *SHORT)
    assert run.code == 0, run.summary.get("checks") or run.stderr
    s = run.summary
    assert s["passive_read_s"] == 0.5 and s["sent"] > 0 and s["latency_samples"] > 0
    assert s["messages"] >= 0.8 * s["sent"] * 10  # each message reaches its room of 10 (the last paced reads may not)


def test_chat_mix_sends_messages_typing_presence_and_history(hub: None, load_run: Callable[..., Any]) -> None:
    run = load_run("chat", "--users", "20", "--room-size", "10", "--msg-rate", "20", "--hub", "stack",
                   "--target-p99", "2000", *SHORT)
    assert run.code == 0, run.summary.get("checks") or run.stderr
    stats = run.stats()
    for request in ("channel_create", "channel_join", "chat_message", "history", "presence"):
        assert int(stats[request]["Request Count"]) > 0 and int(stats[request]["Failure Count"]) == 0, request
    assert run.summary["messages"] > 0 and run.summary["errors"] == 0


def test_notifications_arrive_in_order_per_priority(hub: None, load_run: Callable[..., Any]) -> None:
    run = load_run("notifications", "--users", "20", "--msg-rate", "40", "--hub", "stack",
                   "--target-p99", "2000", *SHORT)
    assert run.code == 0, run.summary.get("checks") or run.stderr
    s = run.summary
    assert s["messages"] > 0 and s["out_of_order"] == 0 and set(s["sent_by_priority"]) >= {"LOW", "NORMAL"}


def test_api_mix_runs_the_three_flows(stack: Any, load_run: Callable[..., Any]) -> None:
    stack.up("api")
    run = load_run("api", "--users", "4", "--target-p99", "5000", "--spawn-rate", "40", "--duration", "5")
    assert run.code == 0, run.summary.get("checks") or run.stderr
    stats = run.stats()
    assert int(stats["/api/search"]["Request Count"]) > 0 and run.summary["failures"] == 0
    assert run.summary["protocol"] == "http" and "drops" not in {c["name"] for c in run.summary["checks"]}
    assert run.summary["server_cpu_max"] is None  # the API's processes are not known here: not shown as 0 %


def test_python_socketio_baseline_runs_the_same_latency_scenario(load_run: Callable[..., Any]) -> None:
    run = load_run("latency", "--target", "socketio", "--users", "20", "--room-size", "10", "--msg-rate", "20",
                   "--target-p99", "2000", *SHORT)
    assert run.code == 0, run.summary.get("checks") or run.stderr
    assert run.summary["target"] == "socketio" and run.summary["latency_samples"] > 0


def test_the_relay_floor_baseline_runs_the_same_latency_scenario_through_redis(
        stack: Any, load_run: Callable[..., Any]) -> None:
    """The floor under the hub's per-message cost (issue 18): every message goes through the stack's
    Redis (a durable publish read back by both workers) before it reaches the room."""
    import redis

    stack.up("redis")
    run = load_run("latency", "--target", "relay-floor", "--users", "20", "--room-size", "10", "--msg-rate", "20",
                   "--target-p99", "2000", *SHORT)
    assert run.code == 0, run.summary.get("checks") or run.stderr
    s = run.summary
    assert s["target"] == "relay-floor" and s["latency_samples"] > 0 and s["server_cpu_max"] is not None
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    streams = list(client.scan_iter("hub:floor:s:*"))
    assert streams and sum(client.xlen(key) for key in streams) >= s["sent"] > 0


def test_each_rate_step_records_the_servers_cpu_per_delivery_and_the_generators(
        load_run: Callable[..., Any]) -> None:
    """The node-vs-hub comparison (issue 18) rests on these figures: each step's server CPU per delivery,
    its busiest generator and how busy the box was."""
    run = load_run("latency", "--target", "node-ws", "--users", "20", "--room-size", "10", "--rate-steps", "20,40",
                   "--step-duration", "2s", "--target-p99", "2000", "--spawn-rate", "40")
    assert run.code == 0, run.summary.get("checks") or run.stderr
    steps = run.summary["steps"]
    assert [s["offered_msgs_per_s"] for s in steps] == [20, 40]
    for step in steps:
        assert step["deliveries_per_s"] > 0 and step["server_cpu_pct"] > 0
        assert 0 < step["server_us_per_delivery"] < 1e6  # CPU seconds per delivery, in µs
        assert step["generator_cpu_max"] > 0 and 0 < step["box_busy_pct"] <= 100
        assert 0 < step["generator_us_per_delivery"] < 1e6  # all Locust workers' CPU per delivery
    assert run.summary["latency_samples"] > 0  # the probes (read by the shared probe reader) timed deliveries


def test_each_rate_step_names_the_pauses_and_run_queue_waits_of_the_generator_and_the_hub(
        hub: None, load_run: Callable[..., Any]) -> None:
    """Where a tail comes from on a half-idle box (issue 18, goal 4): per step, the Locust workers' and
    the hub workers' GC pauses and loop lag, and how long the busiest of each waited for a CPU."""
    import csv

    run = load_run("latency", "--users", "20", "--room-size", "10", "--rate-steps", "10,20", "--step-duration", "3s",
                   "--hub", "stack", "--target-p99", "2000", "--spawn-rate", "40")
    assert run.code == 0, run.summary.get("checks") or run.stderr
    for step in run.summary["steps"]:
        assert 0 <= step["generator_gc_s"] < 3 and step["generator_gc_long"] >= 0
        assert 0 <= step["generator_lag_s"] < 3 and 0 <= step["generator_lag_max_ms"] < 3000
        assert 0 <= step["generator_wait_pct"] <= 100 and 0 <= step["server_wait_pct"] <= 100
        assert 0 <= step["hub_gc_s"] < 3 and step["hub_gc_long"] >= 0
        assert 0 <= step["hub_lag_s"] < 3 and 0 < step["hub_lag_max_ms"] <= 2500  # its timer ran: ~60 a step
    with (run.results / "timeline.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows and all(float(r["gen_lag_max_ms"]) >= 0 for r in rows)
    assert any(r["hub_lag_max_ms"] for r in rows)  # the hub's /metrics is read every few seconds


def test_a_missed_p99_target_fails_the_run(load_run: Callable[..., Any]) -> None:
    """The Node ws baseline against an impossible 1 µs target: exit 1, the p99 check names it."""
    run = load_run("latency", "--target", "node-ws", "--users", "20", "--room-size", "10", "--msg-rate", "20",
                   "--target-p99", "0.001", *SHORT)
    assert run.code == 1
    failed = [c["name"] for c in run.summary["checks"] if not c["ok"]]
    assert failed == ["p99"] and run.summary["messages"] > 0


def test_unknown_scenarios_and_targets_are_usage_errors(load_run: Callable[..., Any]) -> None:
    assert load_run("nope").code == 2
    wrong = load_run("chat", "--target", "node-ws")
    assert wrong.code == 2 and "cannot run against" in wrong.stderr
    late = load_run("latency", "--passive-read-every", "45")
    assert late.code == 2 and "between 0 and 10 seconds" in late.stderr
    vague = load_run("latency", "--duration", "5x")
    assert vague.code == 2 and "--duration must be a duration like 30, 20s, 1m" in vague.stderr
    crowded = load_run("connections", "--users", "34002", "--workers", "2")  # 17k per worker fit 20k open files
    assert crowded.code == 2 and "34,002 users on 2 workers exceeds 17,000 connections per process" in crowded.stderr


def test_a_stack_hub_with_too_few_workers_is_refused_with_the_fix(hub: None, load_run: Callable[..., Any]) -> None:
    run = load_run("connections", "--users", "170000", "--hub", "stack")
    assert run.code == 1 and "too few for 170,000 connections" in run.stderr and "--hub own" in run.stderr


def test_a_terminated_run_stops_locust_and_its_own_hub(hub: None, stack: Any, tmp_path: Path) -> None:
    results = tmp_path / "results"
    with (tmp_path / "spotctl.err").open("w") as err:  # read it if this test fails
        run = subprocess.Popen([str(SPOTCTL), "load", "run", "connections", "--users", "5", "--spawn-rate", "40",
                                "--duration", "300", "--hub", "own", "--hub-workers", "1", "--results", str(results)],
                               env={**os.environ, **stack.env}, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
    deadline = time.monotonic() + 60
    while not (results / "ramped").exists():
        assert run.poll() is None and time.monotonic() < deadline, "the run never reached its hold"
        time.sleep(0.2)
    children = psutil.Process(run.pid).children(recursive=True)
    assert len(children) >= 3  # Locust master and worker, our own hub and its worker

    run.terminate()

    try:
        assert run.wait(60) == 130
        _, alive = psutil.wait_procs(children, timeout=30)
        assert alive == []
        assert not (results / "tokens.txt").exists()
        summary = json.loads((results / "summary.json").read_text())
        assert summary["interrupted"] is True and summary["passed"] is False
        assert [c["name"] for c in summary["checks"] if not c["ok"]] == ["interrupted"]
    finally:
        for child in children:  # never leave a failed test's processes behind
            with contextlib.suppress(psutil.Error):
                child.kill()
