"""Health that tells the truth: one real round trip per dependency, cached for ~2 s.

A connection object that *looks* open says nothing about a broker that stopped answering, so every
check asks the server something (PING, SELECT 1, an AMQP passive declare, Kafka ApiVersions) within a
deadline. A good result is cached for `ttl_s` so a busy health endpoint does not hammer the stores;
a failing one, or one older than a failure a request just saw, is asked again. The answer is `ok`,
or `degraded` naming what failed: the process itself is up (HTTP 200), so a runtime
waiting for it to start is not held up by a broker still booting.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

CHECK_TIMEOUT_S = 1.5
CACHE_S = 2.0

Probe = Callable[[], Awaitable[Any]]
_failures_seen = 0  # bumped by `saw_failure`: a cached report older than that is not reused


def saw_failure() -> None:
    """A request just failed on a dependency: the next health report checks again instead of
    answering from its cache (a 503 followed by a cached `ok` would be a lie)."""
    global _failures_seen
    _failures_seen += 1


@dataclass(frozen=True)
class DepCheck:
    ok: bool
    latency_ms: float | None = None
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"ok": True, "latency_ms": self.latency_ms} if self.ok else {"ok": False, "error": self.error}


def summarize(deps: Mapping[str, DepCheck]) -> tuple[str, list[str]]:
    """('ok' | 'degraded', the dependencies that failed, sorted)."""
    down = sorted(name for name, check in deps.items() if not check.ok)
    return ("degraded" if down else "ok"), down


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


async def run_check(probe: Probe, timeout_s: float = CHECK_TIMEOUT_S) -> DepCheck:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), timeout_s)
    except TimeoutError:
        return DepCheck(False, error=f"no answer within {timeout_s:g} s")
    except Exception as exc:  # whatever the client raises, the dependency did not answer
        return DepCheck(False, error=_first_line(exc))
    return DepCheck(True, latency_ms=round((time.perf_counter() - started) * 1000, 2))


class HealthChecks:
    """The named probes of one process, run together and cached for `ttl_s`."""

    def __init__(self, probes: Mapping[str, Probe], ttl_s: float = CACHE_S,
                 timeout_s: float = CHECK_TIMEOUT_S) -> None:
        self.probes = dict(probes)
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self._cached: tuple[float, int, dict[str, DepCheck]] | None = None
        self._lock = asyncio.Lock()

    async def results(self) -> dict[str, DepCheck]:
        async with self._lock:  # concurrent callers share one round of checks
            if self._cached is not None and time.monotonic() - self._cached[0] < self.ttl_s \
                    and self._cached[1] == _failures_seen and all(c.ok for c in self._cached[2].values()):
                return self._cached[2]  # only a good answer is reused: a failing one is asked again
            seen = _failures_seen
            outcomes = await asyncio.gather(*(run_check(p, self.timeout_s) for p in self.probes.values()))
            results = dict(zip(self.probes, outcomes, strict=True))
            self._cached = (time.monotonic(), seen, results)
            return results

    async def report(self) -> dict[str, Any]:
        """{"status", "degraded", "dependencies"}: what a /health endpoint adds to its own fields."""
        results = await self.results()
        status, down = summarize(results)
        return {"status": status, "degraded": down,
                "dependencies": {name: check.as_json() for name, check in results.items()}}


async def kafka_round_trip(bootstrap_servers: str) -> None:
    """An ApiVersions request to the first broker that answers; raises when none does.

    Protocol-level on purpose: a client library's reconnecting state can hide an outage, the broker's
    own answer cannot.
    """
    errors = []
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            reader, writer = await asyncio.open_connection(host or "127.0.0.1", int(port or 9092))
        except OSError as exc:
            errors.append(f"{server.strip()}: {exc.strerror or exc}")
            continue
        try:
            client = b"spotctl-health"
            body = struct.pack("!hhih", 18, 0, 11, len(client)) + client  # ApiVersions v0, correlation id 11
            writer.write(struct.pack("!i", len(body)) + body)
            await writer.drain()
            _, correlation, error = struct.unpack("!iih", await reader.readexactly(10))
            if correlation != 11 or error != 0:
                raise ConnectionError(f"ApiVersions answered error {error}")
            return
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    raise ConnectionError("; ".join(errors) or "no bootstrap server")


class BlockingHealth:
    """The same checks for a threaded server (the hub's supervisor): run on a private event loop,
    with clients made for that run (`make_probes`), cached for `ttl_s` across threads."""

    def __init__(self, make_probes: Callable[[], Mapping[str, Probe]], ttl_s: float = CACHE_S) -> None:
        self.make_probes = make_probes
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any]] | None = None

    def report(self) -> dict[str, Any]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] >= self.ttl_s or self._cached[1]["degraded"]:
                self._cached = (time.monotonic(), asyncio.run(HealthChecks(self.make_probes()).report()))
            return self._cached[1]


async def redis_round_trip(url: str) -> None:
    """PING on a connection of its own (for callers without a long-lived client)."""
    from spotctl_sandbox.common import redisconn

    client = redisconn.connect_async(url, socket_connect_timeout=CHECK_TIMEOUT_S, socket_timeout=CHECK_TIMEOUT_S)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def postgres_round_trip(url: str) -> None:
    """SELECT 1 on a connection of its own."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, connect_timeout=2, autocommit=True) as conn:
        await conn.execute("SELECT 1")
