"""The observability stack these tests talk to: Prometheus, Alertmanager, the exporters and the monitor
of the test stack, started with fast alert timings (SPOTCTL_FAST_ALERTS=1: every wait one second) and
one ops user, and stopped again after the package, so no alert mail reaches later tests' sinks.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import pytest

from tests.conftest import LocalStack

T = TypeVar("T")
OBSERVABILITY = ("prometheus", "alertmanager", "node-exporter", "redis-exporter", "postgres-exporter", "monitor")
SCRAPED = {"api", "hub", "workers", "monitor", "redis", "postgres", "rabbitmq", "node"}


@dataclass
class Observability:
    env: dict[str, str]
    runtime: Any  # the LocalRuntime that started the observability services (OPS_USERS set)
    ops_user: int
    ops_email: str


def wait_for(check: Callable[[], T | None], timeout: float, what: str, every: float = 0.25) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.25)


def get_json(url: str, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def _targets_up(prometheus: str) -> bool:
    try:
        targets = get_json(f"{prometheus}/api/v1/targets")["data"]["activeTargets"]
    except OSError:
        return False
    return SCRAPED <= {t["labels"]["job"] for t in targets if t["health"] == "up"}


def _ops_user(database_url: str) -> tuple[int, str]:
    email = f"ops-{uuid.uuid4().hex[:10]}@test.spotctl.dev"

    def insert() -> tuple[int, str] | None:
        try:
            with psycopg.connect(database_url, autocommit=True, connect_timeout=3) as conn:
                row = conn.execute("INSERT INTO users (email, name, password_hash) VALUES (%s, 'On call', 'x') "
                                   "RETURNING id", (email,)).fetchone()
        except psycopg.errors.UndefinedTable:
            return None  # the API has not applied its schema yet
        return (int(row[0]), email) if row else None

    return wait_for(insert, 30, "the users table")


@pytest.fixture(scope="package")
def observability(stack: Any) -> Iterator[Observability]:
    if not isinstance(stack, LocalStack):
        pytest.skip("the observability tests run the local runtime's Prometheus and Alertmanager")
    from spotctl import project
    from spotctl.stack.local import LocalRuntime

    stack.up("api", "hub", "workers")
    env = dict(stack.env)
    user_id, email = _ops_user(env["DATABASE_URL"])
    saved = {k: os.environ.get(k) for k in ("SPOTCTL_FAST_ALERTS", "OPS_USERS")}
    os.environ.update(SPOTCTL_FAST_ALERTS="1", OPS_USERS=str(user_id))
    runtime = LocalRuntime(project.current())  # reads the compose file again: OPS_USERS is interpolated there
    try:
        runtime.down(list(OBSERVABILITY), volumes=False)
        runtime.down(["prometheus", "alertmanager"], volumes=True)  # no series or silences of an earlier run
        statuses = runtime.up(list(OBSERVABILITY), [], lambda *_: None)
        absent = [s.name for s in statuses if s.state.value == "absent"]
        assert not absent, f"not installed: {absent} (python3 scripts/dev.py test installs them)"
        wait_for(lambda: _targets_up(env["PROMETHEUS_URL"]), 30, f"Prometheus to scrape {sorted(SCRAPED)}")
        yield Observability(env=env, runtime=runtime, ops_user=user_id, ops_email=email)
    finally:
        runtime.down(list(OBSERVABILITY), volumes=False)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        with psycopg.connect(env["DATABASE_URL"], autocommit=True, connect_timeout=3) as conn:
            conn.execute("DELETE FROM users WHERE id = %s", (user_id,))
