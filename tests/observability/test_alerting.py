"""Against the real Prometheus and Alertmanager: the series users need are scraped, a stopped store
fires its alert into the mailbox and onto an ops user's hub connection, `spotctl alerts` and
`spotctl metrics` work end to end, and bad input gets Prometheus's own message."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.observability.conftest import Observability, eventually, get_json, wait_for

pytestmark = pytest.mark.stack


def query(obs: Observability, expr: str) -> list[dict[str, Any]]:
    url = f"{obs.env['PROMETHEUS_URL']}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    return list(get_json(url)["data"]["result"])


def emails(obs: Observability, needle: str) -> list[dict[str, Any]]:
    messages = get_json(f"{obs.env['WORKERS_URL']}/sinks/email?limit=100")["messages"]
    return [m for m in messages if needle in m["subject"]]


def test_the_series_users_need_are_scraped(observability: Observability, cli: Callable[..., Any]) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    env = observability.env
    httpx.get(f"{env['API_URL']}/api/songs/1", timeout=10)  # a request and a cache lookup, whatever the answer
    topic, group = f"obs-test-{uuid.uuid4().hex[:8]}", f"obs-test-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"])
    for i in range(3):
        producer.send(topic, f"event {i}".encode(), partition=0).get(timeout=10)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], group_id=group,
                             enable_auto_commit=False)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(1, "", -1)})  # read 1 of 3: lag 2
    consumer.close()
    wanted = {
        "API rate per route": 'sum by (route) (rate(spotctl_api_requests_total[1m]))',
        "API latency": "spotctl_api_request_seconds_bucket",
        "cache hits and misses": "spotctl_api_cache_total",
        "BullMQ depth per queue and state": 'bullmq_queue_jobs{queue="reports", state="delayed"}',
        "RabbitMQ dead-letter queues": 'rabbitmq_queue_messages{queue="notifications.delivery.dlq"}',
        "Kafka lag per group and partition": f'kafka_consumergroup_lag{{group="{group}", partition="0"}} == 2',
        "PostgreSQL": "pg_up == 1", "Redis": "redis_up == 1",
        "host CPU": "node_cpu_seconds_total", "host memory": "node_memory_MemAvailable_bytes",
        "hub connections": "hub_connections", "hub delivery latency": "hub_delivery_latency_seconds_bucket",
    }
    missing = dict(wanted)

    def all_there() -> bool:
        for what, expr in list(missing.items()):
            if query(observability, expr):
                del missing[what]
        return not missing

    wait_for(all_there, 30, "the series", every=0.5)
    shown = cli("metrics", "query", wanted["Kafka lag per group and partition"], "-o", "json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert [r["labels"]["topic"] for r in json.loads(shown.stdout)["result"]] == [topic]


async def test_a_stopped_store_pages_the_mailbox_and_the_ops_users_hub(observability: Observability,
                                                                       stack: Any, cli: Callable[..., Any]) -> None:
    import redis.asyncio as aioredis

    from spotctl_sandbox.common import tokens
    from spotctl_sandbox.realtime.client import HubClient

    env = observability.env
    redis = aioredis.Redis.from_url(env["REDIS_URL"])
    token = await tokens.issue(redis, env["JWT_SECRET"], str(observability.ops_user), "On call")
    await redis.aclose()
    async with HubClient(env["HUB_URL"], token) as hub:
        stack.runtime.down(["postgres"], volumes=False)
        try:
            async def paged() -> dict[str, Any] | None:
                try:
                    frame = await hub.recv(timeout=5)
                except TimeoutError:
                    return None
                content = frame.get("content") or {}
                return content if frame["type"] == "notification" and "PostgresDown" in content["title"] else None

            note = await eventually(paged, 40, "the ops user's hub notification")
            assert note["priority"] == "CRITICAL" and note["title"].startswith("[FIRING] PostgresDown")
            mail = wait_for(lambda: emails(observability, "[FIRING] PostgresDown"), 20, "the alert email")
            assert mail[0]["to"] == "ops@spotify.local" and "spotctl up postgres" in mail[0]["body"]

            health = cli("health", "-o", "json", env=env)  # api and workers name what is down
            assert health.returncode == 1
            api = json.loads(health.stdout)["api"]
            assert api["status"] == "degraded" and "postgres" in api["degraded"]
            listed = cli("alerts", "list", "-o", "json", env=env)
            assert listed.returncode == 0, listed.stderr
            assert ("PostgresDown", "firing") in {(a["alert"], a["state"]) for a in json.loads(listed.stdout)["alerts"]}
        finally:
            stack.up("postgres")
    wait_for(lambda: emails(observability, "[RESOLVED] PostgresDown"), 30, "the resolved email")

    def healthy_again() -> bool:
        return cli("health", "api", "hub", "workers", env=env).returncode == 0

    wait_for(healthy_again, 30, "api, hub and workers to report postgres ok again", every=1)
    async with HubClient(env["HUB_URL"], token) as hub:  # healthy means working: no connection of the old server
        created = await hub.request("channel_create", {"kind": "public", "name": f"after-{uuid.uuid4().hex[:8]}"})
        assert created["channel"]["id"]


def test_alerts_test_shows_the_alert_on_the_hub_in_the_mailbox_and_the_push_sink(
        observability: Observability, cli: Callable[..., Any]) -> None:
    result = cli("alerts", "test", "-o", "json", env=observability.env)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    landed = {c["channel"]: c for c in report["channels"]}
    assert {c["outcome"] for c in landed.values()} == {"landed"}
    assert str(observability.ops_user) in landed["hub"]["where"]
    assert report["test_id"] in landed["email"]["where"] and "push sink" in landed["push"]["where"]
    table = cli("alerts", "test", env=observability.env)  # states are coloured cells, not markup text
    assert table.returncode == 0 and "landed" in table.stdout and "[green]" not in table.stdout, table.stdout


def test_silence_asks_then_silences_and_unsilence_undoes_it(observability: Observability,
                                                           cli: Callable[..., Any]) -> None:
    env = observability.env
    refused = cli("alerts", "silence", "KafkaDown", "--for", "10m", env=env)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    made = cli("alerts", "silence", "KafkaDown", "service=kafka", "--for", "10m", "--yes", "-o", "json", env=env)
    assert made.returncode == 0, made.stderr
    silence_id = json.loads(made.stdout)["silence_id"]
    silences = json.loads(cli("alerts", "list", "-o", "json", env=env).stdout)["silences"]
    assert {"id": silence_id, "matchers": ["alertname=KafkaDown", "service=kafka"]}.items() <= \
        next(s for s in silences if s["id"] == silence_id).items()
    undone = cli("alerts", "unsilence", silence_id, env=env)
    assert undone.returncode == 0, undone.stderr
    after = json.loads(cli("alerts", "list", "-o", "json", env=env).stdout)["silences"]
    assert silence_id not in {s["id"] for s in after}
    unknown = cli("alerts", "unsilence", "no-such-silence", env=env)
    assert unknown.returncode == 1 and "no silence no-such-silence" in unknown.stderr


def test_metrics_query_instant_range_bad_promql_and_prometheus_down(observability: Observability,
                                                                    cli: Callable[..., Any]) -> None:
    env = observability.env
    instant = cli("metrics", "query", 'up{job="redis"}', "-o", "json", env=env)
    assert instant.returncode == 0, instant.stderr
    assert [r["value"] for r in json.loads(instant.stdout)["result"]] == [1]
    ranged = cli("metrics", "query", "sum(up)", "--range", "1m", env=env)
    assert ranged.returncode == 0 and any(ch in ranged.stdout for ch in "▁▂▃▄▅▆▇█"), ranged.stdout
    bad = cli("metrics", "query", "rate(up[5m]", env=env)
    assert bad.returncode == 2 and "prometheus:" in bad.stderr and "parse error" in bad.stderr
    down = cli("metrics", "query", "up", "--url", "http://127.0.0.1:9", env=env)
    assert down.returncode == 1
    assert down.stderr.strip().splitlines() == [
        "error: prometheus is not running at http://127.0.0.1:9: start it with `spotctl up prometheus`"]


async def test_ops_users_come_from_ops_users_by_id_or_email_and_from_roles(observability: Observability) -> None:
    import psycopg

    from spotctl_sandbox.monitor.recipients import OpsDirectory

    url = observability.env["DATABASE_URL"]
    named = OpsDirectory(url, [observability.ops_email.upper(), "no-such@user.dev"])
    assert str(observability.ops_user) in await named.users()
    with psycopg.connect(url, autocommit=True) as conn:
        has_roles = conn.execute("SELECT to_regclass('user_roles') IS NOT NULL").fetchone()
        if not (has_roles and has_roles[0]):
            pytest.skip("no user_roles table yet (api-sec's roles): OPS_USERS is the only source")
        row = conn.execute("INSERT INTO users (email, name, password_hash) VALUES (%s, 'Admin', 'x') RETURNING id",
                           (f"admin-{uuid.uuid4().hex[:8]}@test.spotctl.dev",)).fetchone()
        assert row is not None
        try:
            conn.execute("INSERT INTO user_roles (user_id, role) VALUES (%s, 'admin')", (row[0],))
            assert str(row[0]) in await OpsDirectory(url, []).users()
        finally:
            conn.execute("DELETE FROM users WHERE id = %s", (row[0],))
