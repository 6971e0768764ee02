"""The TUI's I/O: blocking reads of the runtime and the stores, run inside Textual thread workers.

The stores are read through `spotctl.clients`, the very clients `spotctl redis|rabbit|kafka|jobs` use,
so the TUI shows exactly what they print. Screens call these functions, never a client.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spotctl.endpoints import Endpoints

if TYPE_CHECKING:
    from spotctl.inspect.redis_view import KeyRow, KeyView
    from spotctl.stack.runtime import Runtime, ServiceStatus

KEY_LIMIT = 500  # keys listed per scan: a browser, not a dump
VALUE_LIMIT = 200


@dataclass(frozen=True)
class Sources:
    """Where the TUI reads from: the stack's runtime and the resolved endpoints (passed down to screens)."""

    runtime: Runtime
    endpoints: Endpoints
    state_dir: Path


def open_sources() -> Sources:
    from spotctl import project
    from spotctl.endpoints import resolve
    from spotctl.stack import runtime

    proj = project.current()
    return Sources(runtime=runtime.select(None, proj), endpoints=resolve(), state_dir=proj.state_dir)


# --- services ------------------------------------------------------------------------------------

def statuses(src: Sources) -> list[ServiceStatus]:
    return src.runtime.status()


def up(src: Sources, service: str) -> list[ServiceStatus]:
    return src.runtime.up([service], [], lambda *_: None)


def down(src: Sources, service: str) -> list[str]:
    return src.runtime.down([service], volumes=False)


def log_file(src: Sources, service: str) -> Path | None:
    path = src.runtime.log_files([service]).get(service)
    return Path(path) if path else None


# --- stores: the same clients as `spotctl redis|rabbit|kafka|jobs` -----------------------------------

def redis_keys(src: Sources, pattern: str) -> tuple[list[KeyRow], bool]:
    """(key, type, ttl) of up to KEY_LIMIT keys matching `pattern` (SCAN, never KEYS); truncated?"""
    from spotctl.clients.redis import RedisClient

    with RedisClient(src.endpoints.redis_url, timeout=5) as r:
        return r.scan(pattern, KEY_LIMIT)


def redis_value(src: Sources, key: str) -> KeyView | None:
    from spotctl.clients.redis import RedisClient

    with RedisClient(src.endpoints.redis_url, timeout=5) as r:
        return r.key(key, VALUE_LIMIT)


def rabbit_queues(src: Sources) -> list[dict[str, Any]]:
    from spotctl.clients.rabbit import Management

    with Management(src.endpoints.rabbitmq_mgmt_url, src.endpoints.amqp_url) as api:
        return api.queues()


def kafka_topics(src: Sources) -> list[dict[str, Any]]:
    """Topics with per-partition earliest/latest offsets (no group: nothing is committed)."""
    from spotctl.clients.kafka import KafkaClient

    with KafkaClient(src.endpoints.kafka_bootstrap_servers) as kafka:
        return kafka.topics()


def job_counts(src: Sources) -> list[dict[str, Any]]:
    """Every queue (by its keys, plus the contract's) with counts per state, via the bullmq package."""
    from spotctl.clients import bullmq

    return bullmq.run(src.endpoints.redis_url, lambda jobs: jobs.overview())
