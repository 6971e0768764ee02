"""The local runtime against real servers: every store answers its own client, state survives restarts."""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SPARE_PORTS

pytestmark = pytest.mark.stack

Cli = Callable[..., Any]


def test_each_core_store_answers_a_real_client(stack: Any) -> None:
    import pika
    import psycopg
    import redis
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    r = redis.Redis.from_url(stack.env["REDIS_URL"])
    r.set("spotctl:test:hello", "world", ex=60)
    assert r.get("spotctl:test:hello") == b"world"

    with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT current_database(), 41 + 1").fetchone() == ("spotify", 42)

    queue = f"spotctl.test.{uuid.uuid4().hex[:8]}"
    with pika.BlockingConnection(pika.URLParameters(stack.env["AMQP_URL"])) as conn:
        channel = conn.channel()
        channel.queue_declare(queue, auto_delete=True)
        channel.basic_publish("", queue, b"ping")
        _, _, body = channel.basic_get(queue, auto_ack=True)
        assert body == b"ping"

    topic = f"spotctl-test-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"])
    sent = producer.send(topic, b"played").get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"], consumer_timeout_ms=10000)
    consumer.assign([TopicPartition(topic, sent.partition)])
    consumer.seek_to_beginning()
    assert [m.value for m in consumer][:1] == [b"played"]
    consumer.close()


def test_health_json_maps_every_service_to_a_status(stack: Any, cli: Cli) -> None:
    result = cli("health", "-o", "json", "redis", "postgres", "rabbitmq", "kafka", "mongo")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {k: v["status"] for k, v in report.items()} == {
        "redis": "healthy", "postgres": "healthy", "rabbitmq": "healthy", "kafka": "healthy",
        "mongo": "absent"}
    assert "mongod" in report["mongo"]["hint"]


def test_ps_says_kafka_is_memory_only_and_a_second_up_attaches(stack: Any, cli: Cli) -> None:
    before = json.loads(cli("ps", "-o", "json").stdout)["services"]
    assert "memory-only" in before["kafka"]["note"]
    again = cli("up", "redis", "-o", "json")
    assert again.returncode == 0, again.stderr
    assert "attaching" in again.stderr
    assert json.loads(again.stdout)["services"]["redis"]["pid"] == before["redis"]["pid"]


def test_config_shows_the_urls_clients_use(stack: Any, cli: Cli) -> None:
    config = json.loads(cli("config", "-o", "json").stdout)
    shown = config["endpoints"]
    assert shown["REDIS_URL"] == stack.env["REDIS_URL"]
    assert shown["MONGO_URL"] is None  # absent, never faked
    # where each value comes from: the test block moves every port with SPOTCTL_<NAME>_PORT
    assert config["from"]["REDIS_URL"] == "compose, port from env SPOTCTL_REDIS_PORT"
    assert config["from"]["state dir"] == "env SPOTCTL_STATE_DIR"
    moved = json.loads(cli("config", "-o", "json", env={"DATABASE_URL": "postgresql://elsewhere/db"}).stdout)
    assert moved["endpoints"]["DATABASE_URL"] == "postgresql://elsewhere/db"
    assert moved["from"]["DATABASE_URL"] == "env DATABASE_URL"


def test_up_of_a_service_that_cannot_run_here_fails_saying_how_to_get_it(stack: Any, cli: Cli) -> None:
    import shutil

    if shutil.which("mongod"):
        pytest.skip("this machine has mongod")
    result = cli("up", "mongo")
    assert result.returncode == 1 and "mongo cannot run here: no mongod on PATH" in result.stderr
    assert "put mongod on PATH" in result.stderr and "stack up" not in result.stderr


def test_health_json_keeps_the_services_own_types(stack: Any, cli: Cli) -> None:
    stack.up("api")
    report = json.loads(cli("health", "api", "-o", "json").stdout)["api"]
    assert report["status"] == "healthy" and report["schema_ready"] is True


# --- a stack of the test's own, on other ports, driven only through the CLI --------------------------

OWN_PORTS = dict(zip(("REDIS", "POSTGRES", "RABBITMQ", "RABBITMQ_MGMT", "KAFKA", "RABBITMQ_METRICS"), SPARE_PORTS,
                     strict=False))


@pytest.fixture
def own(tmp_path: Path, cli: Cli) -> Any:
    env = {"SPOTCTL_STATE_DIR": str(tmp_path / "state"), **{f"SPOTCTL_{k}_PORT": str(v) for k, v in OWN_PORTS.items()}}

    def run(*args: str) -> Any:
        return cli(*args, env=env)

    run.env = env  # type: ignore[attr-defined]
    yield run
    run("down")


def test_data_survives_down_and_up_without_volumes(own: Any) -> None:
    import pika
    import psycopg

    assert own("up", "postgres", "rabbitmq").returncode == 0
    dsn = f"postgresql://spotify:spotify@127.0.0.1:{OWN_PORTS['POSTGRES']}/spotify"
    amqp = f"amqp://guest:guest@127.0.0.1:{OWN_PORTS['RABBITMQ']}/%2F"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    with pika.BlockingConnection(pika.URLParameters(amqp)) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.queue_declare("kept", durable=True)
        channel.basic_publish("", "kept", b"durable", pika.BasicProperties(delivery_mode=2))

    stopping = own("down")
    assert stopping.returncode == 0 and re.search(r"\d+\.\ds  postgres +stopped", stopping.stderr), stopping.stderr
    refused = own("down", "--volumes")  # no terminal, no --yes: refuses and deletes nothing
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert own("up", "postgres", "rabbitmq").returncode == 0

    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT v FROM kept").fetchall() == [("still here",)]
    with pika.BlockingConnection(pika.URLParameters(amqp)) as conn:
        _, _, body = conn.channel().basic_get("kept", auto_ack=True)
        assert body == b"durable"

    wiped = own("down", "--volumes", "--yes", "postgres")
    assert wiped.returncode == 0 and "data deleted" in wiped.stderr
    assert not (Path(own.env["SPOTCTL_STATE_DIR"]) / "data" / "volumes" / "postgres-data").exists()


def test_unknown_service_is_a_usage_error(own: Any) -> None:
    result = own("up", "nope")
    assert result.returncode == 2
    assert "unknown service: nope" in result.stderr and "Traceback" not in result.stderr


def test_port_taken_by_a_foreign_process_names_the_port_and_owner(own: Any) -> None:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", OWN_PORTS["REDIS"]))
        squatter.listen()
        result = own("up", "redis")
    assert result.returncode == 1
    assert f"port {OWN_PORTS['REDIS']} for redis is already in use" in result.stderr
    assert f"pid {os.getpid()}" in result.stderr  # the owner: this test process
    assert "SPOTCTL_REDIS_PORT" in result.stderr and "Traceback" not in result.stderr


def test_a_stale_pid_record_is_detected_and_replaced(own: Any) -> None:
    run_dir = Path(own.env["SPOTCTL_STATE_DIR"]) / "run"
    run_dir.mkdir(parents=True)
    (run_dir / "redis.json").write_text(json.dumps(
        {"service": "redis", "pid": 999999, "create_time": 1.0, "argv": ["redis-server"], "log": "x"}))
    status = json.loads(own("ps", "-o", "json", "redis").stdout)["services"]["redis"]
    assert status["state"] == "stopped"
    started = own("up", "redis", "-o", "json")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["services"]["redis"]["status"] == "healthy"


def test_health_exits_1_when_a_required_service_is_down(own: Any) -> None:
    result = own("health", "-o", "json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["redis"]["status"] == "unhealthy"


def test_postgres_stops_at_once_and_cleanly_with_clients_connected(own: Any) -> None:
    """compose's stop_signal (SIGINT, PostgreSQL's fast shutdown): SIGTERM waited for every client to
    leave, then was killed after 20 s and recovered from a crash at the next start."""
    import psycopg

    assert own("up", "postgres").returncode == 0
    client = psycopg.connect(f"postgresql://spotify:spotify@127.0.0.1:{OWN_PORTS['POSTGRES']}/spotify")
    try:
        assert own("down", "postgres").returncode == 0
    finally:
        client.close()
    log = (Path(own.env["SPOTCTL_STATE_DIR"]) / "logs" / "postgres.log").read_text()
    assert "received fast shutdown request" in log and "database system is shut down" in log


def test_a_cold_up_ends_with_the_workers_consuming_not_degraded(tmp_path: Path, cli: Cli) -> None:
    """The workers start before RabbitMQ answers (it boots last, off their path) and reconnect with
    backoff: `up` waits for that, so it does not end on a `degraded` that is gone a second later."""
    from tests.conftest import PORT_BASE, PORT_VARIABLES

    base = PORT_BASE + len(PORT_VARIABLES)  # the second stack's room (tests/reliability uses it too, not at once)
    env = {"SPOTCTL_STATE_DIR": str(tmp_path / "state"),
           **{var: str(base + i) for i, var in enumerate(PORT_VARIABLES)}}
    try:
        result = cli("up", "rabbitmq", "kafka", "workers", "-o", "json", env=env)
        assert result.returncode == 0, result.stderr
        workers = json.loads(result.stdout)["services"]["workers"]
        assert workers["state"] == "healthy", workers
    finally:
        cli("down", env=env)


def test_up_waits_only_for_a_degraded_service_whose_stores_are_up() -> None:
    from spotctl.stack.local_status import settling
    from spotctl.stack.runtime import ServiceStatus, State

    services = {"rabbitmq": None, "kafka": None, "workers": None}

    def workers(degraded: str) -> ServiceStatus:
        return ServiceStatus("workers", State.degraded, extra={"degraded": degraded})

    assert settling(workers("rabbitmq, delivery: waiting"), services, healthy={"rabbitmq"})  # reconnecting
    assert settling(workers("degraded"), services, healthy=set())  # a worker still starting
    assert not settling(workers("rabbitmq, delivery: waiting"), services, healthy={"kafka"})  # rabbitmq is down
    assert not settling(workers("analytics: stalled"), services, healthy={"rabbitmq", "kafka"})
