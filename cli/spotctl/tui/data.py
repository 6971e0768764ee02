"""The TUI's I/O: blocking reads and actions on the runtime and the stores, run inside Textual thread workers.

Everything goes through `spotctl.clients`, the very clients the commands use, so a screen shows what
`spotctl ps|redis|rabbit|kafka|jobs|hub|pg|mongo|analytics` print and an action does what the command does
(`inspect.questions` words the confirmation both ask). Screens call these functions, never a client.
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
    from spotctl.clients.kafka import KafkaClient
    from spotctl.inspect.analytics_view import Overview, Span
    from spotctl.inspect.hub_view import Target
    from spotctl.inspect.kafka_view import Reset
    from spotctl.inspect.redis_view import KeyRow, KeyView
    from spotctl.stack.runtime import Runtime, ServiceStatus
    from spotctl.stack.usage import Usage

KEY_LIMIT = 500  # keys listed per scan: a browser, not a dump
VALUE_LIMIT = 200
PEEK = 20  # messages, records or jobs shown when a queue, topic or state is opened
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


# --- RabbitMQ --------------------------------------------------------------------------------------

def rabbit_queues(src: Sources) -> list[dict[str, Any]]:
    from spotctl.clients.rabbit import Management

    with Management(src.endpoints.rabbitmq_mgmt_url, src.endpoints.amqp_url) as api:
        return api.queues()


def rabbit_peek(src: Sources, queue: str, n: int = PEEK) -> tuple[int, list[dict[str, Any]]]:
    """`spotctl rabbit peek`: the first n messages, fetched and requeued (RabbitMQ has no true peek)."""
    from spotctl.clients.rabbit import Amqp

    with Amqp(src.endpoints.amqp_url) as rabbit:
        return rabbit.peek(queue, n)


def rabbit_purge_question(src: Sources, queue: str) -> str:
    from spotctl.clients.rabbit import Amqp
    from spotctl.inspect import questions

    with Amqp(src.endpoints.amqp_url) as rabbit:
        return questions.purge_queue(queue, rabbit.count(queue))


def rabbit_purge(src: Sources, queue: str) -> int:
    from spotctl.clients.rabbit import Amqp

    with Amqp(src.endpoints.amqp_url) as rabbit:
        return rabbit.purge(queue)


def rabbit_redrive_question(src: Sources, queue: str) -> str:
    """`spotctl rabbit redrive`'s question (the dead letters of `queue`, or of `queue` itself if a .dlq)."""
    from spotctl.clients.rabbit import Amqp
    from spotctl.errors import SpotctlError
    from spotctl.inspect import questions
    from spotctl.inspect.rabbit_view import dlq_name

    dlq = dlq_name(queue)
    with Amqp(src.endpoints.amqp_url) as rabbit:
        count = rabbit.count(dlq)
    if count == 0:
        raise SpotctlError(f"{dlq} is empty: nothing to re-drive")
    return questions.redrive(dlq, count)


def rabbit_redrive(src: Sources, queue: str) -> dict[str, int]:
    from spotctl.clients.rabbit import Amqp
    from spotctl.inspect.rabbit_view import dlq_name

    dlq = dlq_name(queue)
    with Amqp(src.endpoints.amqp_url) as rabbit:
        return dict(rabbit.redrive(dlq, rabbit.count(dlq)))


# --- Kafka -----------------------------------------------------------------------------------------

def _kafka(src: Sources, work: Callable[[KafkaClient], Any]) -> Any:
    from spotctl.clients.kafka import KafkaClient

    with KafkaClient(src.endpoints.kafka_bootstrap_servers) as kafka:
        return work(kafka)


def kafka_topics(src: Sources) -> list[dict[str, Any]]:
    """Topics with per-partition earliest/latest offsets (no group: nothing is committed)."""
    topics: list[dict[str, Any]] = _kafka(src, lambda kafka: kafka.topics())
    return topics


def kafka_tail(src: Sources, topic: str, n: int = PEEK) -> list[dict[str, Any]]:
    """`spotctl kafka tail TOPIC -n N`: the newest records, read without a group (nothing committed)."""
    from spotctl.inspect.kafka_view import TailPlan

    records: list[dict[str, Any]] = _kafka(src, lambda kafka: kafka.tail(topic, TailPlan.from_flags(
        False, None, n, False), None))
    return records


def kafka_groups(src: Sources) -> list[dict[str, Any]]:
    """`spotctl kafka groups`: state, members and lag per partition of every consumer group."""
    groups: list[dict[str, Any]] = _kafka(src, lambda kafka: kafka.groups())
    return groups


def kafka_reset_question(src: Sources, group: str, mode: Reset) -> str:
    """The reset's plan (refused while the group has members), worded as `kafka reset-offsets` asks."""
    from spotctl.inspect import questions

    moves: dict[Any, Any] = _kafka(src, lambda kafka: kafka.reset_plan(group, [], mode, None))
    return questions.reset_offsets(group, len(moves)) + " to the " + mode.value


def kafka_reset(src: Sources, group: str, mode: Reset) -> int:
    """Plan again (the group may have changed meanwhile) and commit; how many offsets moved."""
    def work(kafka: KafkaClient) -> int:
        moves = kafka.reset_plan(group, [], mode, None)
        kafka.commit_offsets(group, {tp: new for tp, (_, new) in moves.items()})
        return len(moves)

    moved: int = _kafka(src, work)
    return moved


# --- BullMQ ----------------------------------------------------------------------------------------

def job_counts(src: Sources) -> list[dict[str, Any]]:
    """Every queue (by its keys, plus the contract's) with counts per state, via the bullmq package."""
    from spotctl.clients import bullmq

    return bullmq.run(src.endpoints.cluster_or_redis_url, lambda jobs: jobs.overview())


def jobs_in(src: Sources, queue: str, state: str, n: int = PEEK) -> list[dict[str, Any]]:
    """`spotctl jobs list QUEUE --state S` (failed: with the reason)."""
    from spotctl.clients import bullmq

    return bullmq.run(src.endpoints.cluster_or_redis_url, lambda jobs: jobs.jobs(queue, state, n))


def jobs_retry_question(src: Sources, queue: str) -> str:
    from spotctl.clients import bullmq
    from spotctl.errors import SpotctlError
    from spotctl.inspect import questions

    count = bullmq.run(src.endpoints.cluster_or_redis_url, lambda jobs: jobs.counts(queue, ["failed"])).get("failed", 0)
    if count == 0:
        raise SpotctlError(f"no failed jobs in {queue}: nothing to retry")
    return questions.retry_jobs(queue, count)


def jobs_retry(src: Sources, queue: str, job_ids: Sequence[str] | None) -> list[str]:
    """`spotctl jobs retry QUEUE ID...` (or `--all` with None)."""
    from spotctl.clients import bullmq

    return bullmq.run(src.endpoints.cluster_or_redis_url, lambda jobs: jobs.retry(queue, job_ids))


def jobs_clean_question(src: Sources, queue: str, state: str) -> str:
    from spotctl.clients import bullmq
    from spotctl.inspect import questions

    count = bullmq.run(src.endpoints.cluster_or_redis_url, lambda jobs: jobs.counts(queue, [state])).get(state, 0)
    return questions.clean_jobs(queue, state, count, False)


def jobs_clean(src: Sources, queue: str, state: str) -> int:
    """`spotctl jobs clean QUEUE --state S` (every job in that state, no grace)."""
    from spotctl.clients import bullmq
    from spotctl.inspect.jobs_view import CleanState

    return bullmq.run(src.endpoints.cluster_or_redis_url, lambda jobs: jobs.clean(queue, CleanState(state), 0, 0))


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
