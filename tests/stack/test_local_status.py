"""What `ps` says of a local service, from what the runtime found — and the health probe is asked only
when its answer can matter (not for a stopped, held or paused service)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from spotctl.stack import supervision
from spotctl.stack.control import Hold
from spotctl.stack.local_status import Found, Health, Meta, describe
from spotctl.stack.runtime import State

NOW = 1_000_000.0


def found(**changes: Any) -> Found:
    facts: dict[str, Any] = dict(name="workers", endpoints=("127.0.0.1:8090",), required=True, meta=None, now=NOW,
                                 sup=supervision.Record(), hold=None, has_spec=True, pid=4242,
                                 started_at=NOW - 60, budget_s=30.0)
    return Found(**{**facts, **changes})


def answers(healthy: bool, detail: str = "GET /health -> 200", body: dict[str, Any] | None = None) -> Health:
    return lambda: (healthy, detail, body)


def never() -> tuple[bool, str, dict[str, Any] | None]:
    pytest.fail("the probe was asked for a service that is not running")


def test_a_running_service_is_what_its_probe_says_and_its_body_adds_columns() -> None:
    status = describe(found(), answers(True, body={"status": "ok", "playlists_backend": "postgres-jsonb"}))
    assert (status.state, status.pid, status.extra) == (State.healthy, 4242, {"playlists_backend": "postgres-jsonb"})


def test_a_store_named_in_the_body_makes_it_degraded() -> None:
    body = {"status": "degraded", "degraded": ["rabbitmq"], "dependencies": {"rabbitmq": {"error": "refused"}}}
    status = describe(found(), answers(True, body=body))
    assert status.state is State.degraded
    assert status.detail == "degraded: rabbitmq (refused)" and status.extra["degraded"] == "rabbitmq"


def test_unhealthy_only_after_its_start_budget() -> None:
    assert describe(found(started_at=NOW - 5), answers(False, "refused")).state is State.starting
    assert describe(found(started_at=NOW - 31), answers(False, "refused")).state is State.unhealthy


def test_stopped_restarting_held_and_paused_are_told_without_a_probe() -> None:
    assert describe(found(pid=None), never).hint == "spotctl up workers"
    due = supervision.Record(restarts=2, next_start_at=NOW + 1)
    assert describe(found(pid=None, sup=due), never).state is State.restarting
    stopped = describe(found(pid=None, hold=Hold("stop", math.inf)), never)
    assert (stopped.state, stopped.hint) == (State.stopped, "spotctl chaos resume workers")
    assert "until `spotctl chaos resume`" in stopped.detail
    paused = describe(found(hold=Hold("pause", NOW + 20)), never)
    assert (paused.state, paused.pid, paused.detail) == (State.paused, 4242, "paused by `spotctl chaos` for 20s more")


def test_absent_and_external_services() -> None:
    absent = describe(found(meta=Meta("absent", note="no mongod on PATH", hint="apt-get ..."), pid=None), never)
    assert (absent.state, absent.hint) == (State.absent, "apt-get ...")
    external = describe(found(meta=Meta("external", url="redis+cluster://127.0.0.1:7001"), pid=None),
                        answers(False, "refused"))
    assert (external.state, external.endpoints) == (State.unhealthy, ("redis+cluster://127.0.0.1:7001",))
