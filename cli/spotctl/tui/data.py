"""The TUI's I/O: blocking reads of the runtime and the stores, run inside Textual thread workers.

Each function returns plain data shaped by the inspectors' own helpers (`spotctl.inspect`), so the
TUI shows exactly what `spotctl redis|rabbit|kafka|jobs` print. Screens never import a client.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spotctl.endpoints import Endpoints

if TYPE_CHECKING:
    from spotctl.inspect.redis_view import KeyView
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


# --- redis ---------------------------------------------------------------------------------------

def _redis(src: Sources) -> Any:
    import redis

    return redis.Redis.from_url(src.endpoints.redis_url, socket_connect_timeout=2, socket_timeout=5)


def redis_keys(src: Sources, pattern: str) -> tuple[list[tuple[str, str, int]], bool]:
    """(key, type, ttl) of up to KEY_LIMIT keys matching `pattern` (SCAN, never KEYS); truncated?"""
    from spotctl.inspect.redis_scan import scan_keys

    r = _redis(src)
    try:
        return scan_keys(r, pattern, KEY_LIMIT)
    finally:
        r.close()


def redis_value(src: Sources, key: str) -> KeyView | None:
    from spotctl.commands.redis import read_key

    r = _redis(src)
    try:
        return read_key(r, key, VALUE_LIMIT)
    finally:
        r.close()


# --- rabbitmq ------------------------------------------------------------------------------------

def rabbit_queues(src: Sources) -> list[dict[str, Any]]:
    import httpx

    from spotctl.inspect.rabbit_view import queue_summary

    # user:password in RABBITMQ_MGMT_URL become basic auth (httpx reads the URL's userinfo)
    resp = httpx.get(f"{src.endpoints.rabbitmq_mgmt_url.rstrip('/')}/api/queues/%2F", timeout=5)
    resp.raise_for_status()
    return [queue_summary(q) for q in resp.json()]


# --- kafka ---------------------------------------------------------------------------------------

def kafka_topics(src: Sources) -> list[dict[str, Any]]:
    """Topics with per-partition earliest/latest offsets (no group: nothing is committed)."""
    import logging

    from spotctl.commands.kafka import consumer_client, partitions
    from spotctl.endpoints import port_open

    servers = src.endpoints.kafka_bootstrap_servers
    if not any(port_open(s.strip(), 9092, 1.0) for s in servers.split(",")):
        raise ConnectionError(f"kafka is not reachable at {servers}")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    consumer = consumer_client(servers)
    try:
        names = sorted(t for t in consumer.topics() if not t.startswith("__"))
        tps = [tp for t in names for tp in partitions(consumer, t)]
        begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
    finally:
        consumer.close()
    topics = []
    for name in names:
        parts = [(tp.partition, begin[tp], end[tp]) for tp in tps if tp.topic == name]
        topics.append({"topic": name, "partitions": len(parts), "messages": sum(e - b for _, b, e in parts),
                       "offsets": " ".join(f"{p}:{e}" for p, _, e in parts)})
    return topics


# --- bullmq --------------------------------------------------------------------------------------

def job_counts(src: Sources) -> list[dict[str, Any]]:
    """Every queue (by its keys, plus the contract's) with counts per state, via the bullmq package."""
    return asyncio.run(_job_counts(src.endpoints.redis_url))


async def _job_counts(url: str) -> list[dict[str, Any]]:
    import redis.asyncio as aredis
    from bullmq import Queue

    from spotctl.inspect.jobs_view import COUNT_STATES, PREFIX, counts_row, queue_names

    client = aredis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2)
    try:
        keys = [k async for k in client.scan_iter(match=f"{PREFIX}:*", count=1000) if k.endswith((":meta", ":id"))]
    finally:
        await client.aclose()
    rows = []
    for name in queue_names(keys):
        queue = Queue(name, {"connection": url})
        try:
            rows.append(counts_row(name, await queue.getJobCounts(*COUNT_STATES), bool(await queue.isPaused())))
        finally:
            await queue.close()
    return rows
