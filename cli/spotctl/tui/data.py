"""The TUI's I/O: blocking reads and actions on the runtime and the stores, run inside Textual thread workers.

Everything goes through `spotctl.clients`, the very clients the commands use, so a screen shows what
`spotctl ps|redis|rabbit|kafka|jobs|hub|pg|mongo|analytics` print and an action does what the command does
(`inspect.questions` words the confirmation both ask). Screens call these functions, never a client.
The message brokers' and job queues' (RabbitMQ, Kafka, BullMQ) are in brokers.py, the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spotctl.endpoints import Endpoints

if TYPE_CHECKING:
    from spotctl.clients.hub_peer import Peer
    from spotctl.inspect.analytics_view import Overview, Span
    from spotctl.inspect.hub_view import Target
    from spotctl.inspect.redis_view import KeyRow, KeyView
    from spotctl.stack.runtime import Runtime, ServiceStatus
    from spotctl.stack.usage import Usage

KEY_LIMIT = 500  # keys listed per scan: a browser, not a dump
VALUE_LIMIT = 200
QUERY_LIMIT = 200  # rows the SQL pane fetches
DOC_LIMIT = 50


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


def usage(src: Sources, services: Sequence[str]) -> dict[str, Usage]:
    """CPU % (since the previous refresh) and memory of each running service, as the runtime measures them."""
    return src.runtime.usage(services)


def up(src: Sources, service: str) -> list[ServiceStatus]:
    return src.runtime.up([service], [], lambda *_: None)


def down(src: Sources, service: str) -> list[str]:
    return src.runtime.down([service], volumes=False)


def log_file(src: Sources, service: str) -> Path | None:
    path = src.runtime.log_files([service]).get(service)
    return Path(path) if path else None


# --- Redis -----------------------------------------------------------------------------------------

def redis_keys(src: Sources, pattern: str) -> tuple[list[KeyRow], bool]:
    """(key, type, ttl) of up to KEY_LIMIT keys matching `pattern` (SCAN, never KEYS); truncated?"""
    from spotctl.clients.redis import RedisClient

    with RedisClient(src.endpoints.cluster_or_redis_url, timeout=5) as r:
        return r.scan(pattern, KEY_LIMIT)


def redis_value(src: Sources, key: str) -> KeyView | None:
    from spotctl.clients.redis import RedisClient

    with RedisClient(src.endpoints.cluster_or_redis_url, timeout=5) as r:
        return r.key(key, VALUE_LIMIT)


def redis_delete_question(src: Sources, keys: Sequence[str]) -> str:
    """`spotctl redis del`'s question, for the keys that still exist."""
    from spotctl.clients.redis import RedisClient
    from spotctl.errors import SpotctlError
    from spotctl.inspect import questions
    from spotctl.inspect.redis_view import KeyType

    with RedisClient(src.endpoints.cluster_or_redis_url, timeout=5) as r:
        existing = [(k, str(t)) for k, t in zip(keys, r.types(keys), strict=True) if t is not KeyType.none]
    if not existing:
        raise SpotctlError("none of these keys exists any more: " + ", ".join(keys))
    return questions.delete_keys(existing)


def redis_delete(src: Sources, keys: Sequence[str]) -> int:
    from spotctl.clients.redis import RedisClient

    with RedisClient(src.endpoints.cluster_or_redis_url, timeout=5) as r:
        return r.delete(keys)


# --- the hub ---------------------------------------------------------------------------------------

def hub_stats(src: Sources, interval: float = 1.0) -> dict[str, Any]:
    """`spotctl hub stats`: health, per-worker connections and messages/s, delivery p50/p99."""
    from spotctl.clients import hub

    return hub.stats(src.endpoints.hub_metrics_url, interval)


@asynccontextmanager
async def hub_watch(src: Sources, topic: str, user: str,
                    on_frame: Callable[[dict[str, Any]], None]) -> AsyncIterator[tuple[Peer, Target | None]]:
    """`spotctl hub watch TOPIC` as an open connection: a Peer following `topic` (joined, listening along
    or editing, as its clients do), every frame handed to `on_frame`; the target is None for a session
    or a playlist (they take no text)."""
    from spotctl.clients import hub, hub_peer

    async with hub_peer.connect(src.endpoints, user, on_frame=on_frame) as peer:
        target, _ = await hub.follow(peer, topic)
        yield peer, target


def hub_topics(src: Sources, ns: str = "default") -> list[dict[str, Any]]:
    """`spotctl hub topics`: channels with members, rooms and other topics the workers follow."""
    from spotctl.clients import hub

    return hub.topics(src.endpoints.cluster_or_redis_url, src.endpoints.database_url, ns)


# --- analytics -------------------------------------------------------------------------------------

def analytics_overview(src: Sources, tenant: str, metric: str, span: Span) -> Overview:
    """A tenant's metric with its forecast band and anomalies, and the model registry, as the screen
    shows them (`spotctl analytics metrics|forecast|anomalies|models`, through the same client)."""
    from spotctl.clients import analytics
    from spotctl.inspect.analytics_view import overview

    with analytics.api(endpoints=src.endpoints) as client:
        answers = analytics.overview(client, tenant, metric, span.since, span.step, span.horizon)
    return overview(tenant, metric, span, answers)


# --- PostgreSQL and the document store --------------------------------------------------------------

def pg_tables(src: Sources) -> list[dict[str, Any]]:
    from spotctl.clients.postgres import PgClient

    with PgClient(src.endpoints.database_url) as pg:
        return pg.tables()


def pg_describe(src: Sources, table: str) -> dict[str, Any]:
    from spotctl.clients.postgres import PgClient

    with PgClient(src.endpoints.database_url) as pg:
        return pg.describe(table)


def pg_query(src: Sources, text: str, limit: int = QUERY_LIMIT) -> Any:
    """`spotctl pg query SQL --limit N`: read-only (a READ ONLY transaction, rolled back)."""
    from spotctl.clients.postgres import PgClient

    with PgClient(src.endpoints.database_url, read_only=True) as pg:
        return pg.query(text, limit)


FALLBACK_TABLE = "playlists"  # the API's stand-in for MongoDB (spotctl_sandbox.playlists.postgres)


def doc_store(src: Sources) -> tuple[str, list[dict[str, Any]]]:
    """The document store's name and its collections (name, count, indexes): MongoDB when the runtime
    has one, else the PostgreSQL JSONB table the API keeps playlists in instead."""
    if src.endpoints.mongo_url is not None:
        from spotctl.clients.mongo import MongoClient

        with MongoClient(src.endpoints.mongo_url) as mongo:
            db, collections = mongo.collections(None)
        return f"MongoDB (database {db})", collections
    from spotctl.clients.postgres import PgClient

    with PgClient(src.endpoints.database_url) as pg:
        count, _ = pg.documents(FALLBACK_TABLE, 0)
    return ("PostgreSQL JSONB, the fallback (no MongoDB in this runtime)",
            [{"name": FALLBACK_TABLE, "count": count, "indexes": []}])


def doc_find(src: Sources, collection: str, n: int = DOC_LIMIT) -> list[Any]:
    """The newest documents (MongoDB: `spotctl mongo find COLLECTION -n N`)."""
    if src.endpoints.mongo_url is not None:
        from spotctl.clients.mongo import MongoClient

        with MongoClient(src.endpoints.mongo_url) as mongo:
            return mongo.find(collection, {}, limit=n, sort="-_id", db=None)
    from spotctl.clients.postgres import PgClient

    with PgClient(src.endpoints.database_url) as pg:
        return pg.documents(collection, n)[1]


# --- load tests ------------------------------------------------------------------------------------

def load_scenarios() -> list[dict[str, Any]]:
    """`spotctl load list`: the Locust scenarios with their targets and default rates."""
    from spotctl import project

    project.import_loadtests()
    from loadtests.catalog import SCENARIOS

    return [{"name": s.name, "summary": s.summary, "targets": list(s.targets), "latency": s.measures_latency,
             "msg_rate": s.msg_rate} for s in SCENARIOS.values()]


def load_run(src: Sources, scenario: str, users: int, duration_s: float, target_p99_ms: float,
             msg_rate: float | None, on_target: Callable[[str], None],
             on_progress: Callable[[dict[str, Any]], None]) -> Any:
    """`spotctl load run SCENARIO -u N -t S --target-p99 MS [--msg-rate R]` (the same runner, the same
    results folder, report.html and summary.json); blocks until the run ends."""
    import time

    from spotctl import project
    from spotctl.errors import SpotctlError, UsageError

    if users < 1 or duration_s < 0 or target_p99_ms <= 0 or (msg_rate is not None and msg_rate <= 0):
        raise UsageError("users and the p99 target must be positive, the duration not negative")
    project.import_loadtests()
    from loadtests import run as runner

    results = project.current().root / "results" / f"{scenario}-{time.strftime('%Y%m%d-%H%M%S')}"
    request = runner.RunRequest(scenario=scenario, users=users, spawn_rate=50.0, hold_s=duration_s,
                                target_p99_ms=target_p99_ms, results_dir=results.resolve(),
                                env={k: v for k, v in src.endpoints.env.items() if v}, msg_rate=msg_rate)
    try:
        return runner.run(request, on_target=on_target, on_progress=on_progress)
    except runner.RunError as exc:
        raise SpotctlError(str(exc), hint=f"logs are in {results}") from None


# --- metrics and alerts --------------------------------------------------------------------------

METRICS_WINDOW_S = 15 * 60


def key_metrics(src: Sources) -> list[tuple[str, float, list[float], str]]:
    """(what, latest value, last 15 minutes, unit) for each key series (NaN when there is no data)."""
    import math
    import time

    from spotctl.clients.prometheus import PrometheusClient
    from spotctl.inspect.metrics_view import KEY_SERIES, step_for

    end = time.time()
    rows = []
    with PrometheusClient(src.endpoints.prometheus_url, timeout=5) as prom:
        for what, expr, unit in KEY_SERIES:
            series = prom.query_range(expr, end - METRICS_WINDOW_S, end, step_for(METRICS_WINDOW_S, 60))
            values = [v for _, v in series[0].points] if series else []
            rows.append((what, values[-1] if values else math.nan, values, unit))
    return rows


def alert_rows(src: Sources) -> list[Any]:
    """`spotctl alerts list`'s rows: Prometheus' pending/firing alerts with Alertmanager's suppression."""
    from spotctl.clients.prometheus import AlertmanagerClient, NotRunning, PrometheusClient
    from spotctl.inspect.alerts_view import merge_alerts

    with PrometheusClient(src.endpoints.prometheus_url, timeout=5) as prom:
        rules = prom.alerts()
    try:
        with AlertmanagerClient(src.endpoints.alertmanager_url, timeout=5) as am:
            managed = am.alerts()
    except NotRunning:
        managed = []
    return merge_alerts(rules, managed)


def silence(src: Sources, labels: dict[str, str], hours: float = 1.0) -> str:
    """Silence exactly this alert (all its labels) for `hours`; returns the silence id."""
    import datetime as dt
    import getpass

    from spotctl.clients.prometheus import AlertmanagerClient, Matcher

    with AlertmanagerClient(src.endpoints.alertmanager_url, timeout=5) as am:
        return am.silence([Matcher(k, v) for k, v in sorted(labels.items())], dt.timedelta(hours=hours),
                          "silenced from spotctl tui", f"{getpass.getuser()} (spotctl tui)")
