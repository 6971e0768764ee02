"""A client is closed on every path: a long-lived caller (the TUI, a scenario run) that hits errors
again and again keeps no sockets behind."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from spotctl.errors import SpotctlError

pytestmark = [pytest.mark.stack,
              pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open fds through /proc")]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def fails_repeatedly(attempt: Callable[[], Any], times: int = 5) -> int:
    """Open fds after `times` failing attempts, less those before (after one warm-up for lazy imports)."""
    with pytest.raises(SpotctlError):
        attempt()
    before = open_fds()
    for _ in range(times):
        with pytest.raises(SpotctlError):
            attempt()
    return open_fds() - before


def test_kafka_client_closes_after_a_missing_topic(stack: Any) -> None:
    from spotctl.clients.kafka import KafkaClient

    def attempt() -> None:
        with KafkaClient(stack.env["KAFKA_BOOTSTRAP_SERVERS"]) as kafka:
            kafka.topics()  # opens the admin client and the consumer
            kafka.extent(f"absent-{uuid.uuid4().hex[:8]}")

    assert fails_repeatedly(attempt) <= 0


def test_redis_and_postgres_clients_close_after_a_refusal(stack: Any) -> None:
    from spotctl.clients import redis
    from spotctl.clients.postgres import PgClient

    def redis_attempt() -> None:
        with redis.connect(stack.env["REDIS_URL"]) as r:
            r.redis.set("closing-test", "x", ex=60)
            r.top("closing-test", 3)  # WRONGTYPE: a refusal

    def pg_attempt() -> None:
        with PgClient(stack.env["DATABASE_URL"]) as pg:
            pg.query("SELECT * FROM no_such_table_here")

    assert fails_repeatedly(redis_attempt) <= 0
    assert fails_repeatedly(pg_attempt) <= 0
