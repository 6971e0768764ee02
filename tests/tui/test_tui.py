"""`spotctl tui` driven with Textual's Pilot against the real test stack: each screen, each action."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import rows, screen_text, status, until

pytestmark = pytest.mark.stack

SIZE = (160, 48)


def app_for(sources: Any, start: str = "services", read_only: bool = False) -> Any:
    from spotctl.tui.app import SpotctlApp

    return SpotctlApp(sources, start=start, read_only=read_only)


async def confirm(pilot: Any, answer: str) -> str:
    """Wait for the confirm modal, answer it; the question it asked."""
    from spotctl.tui.components.confirm import ConfirmScreen

    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
    question = pilot.app.screen.question
    await pilot.press(answer)
    await until(pilot, lambda: not isinstance(pilot.app.screen, ConfirmScreen))
    return str(question)


def help_of(screen: Any) -> str:
    """The help modal's whole text (more than fits on the screen)."""
    import io

    from rich.console import Console

    console = Console(width=100, file=io.StringIO(), record=True, color_system=None)
    console.print(screen.text)
    return console.export_text()


async def filtered(pilot: Any, text: str) -> None:
    """`/` then the text (set at once: typing it key by key is slow on a busy box), then enter."""
    await pilot.press("slash")
    pilot.app.screen.query_one("#filter").value = text
    await pilot.press("enter")


# --- services, logs, command mode, help -------------------------------------------------------------

async def test_services_show_usage_and_logs_open_with_a_filter(sources: Any) -> None:
    from spotctl.tui.components.logs import LogsScreen

    app = app_for(sources)
    async with app.run_test(size=SIZE) as pilot:
        grid = app.screen.grid
        await until(pilot, lambda: any(r[0] == "redis" and "healthy" in r[1] for r in rows(grid)))
        redis_row = next(r for r in rows(grid) if r[0] == "redis")
        assert redis_row[3].endswith("iB") and float(redis_row[2]) >= 0  # RSS and CPU % of its process
        assert redis_row[4].isdigit()  # restarts, as the local supervisor counts them
        await filtered(pilot, "redis")
        kept = [r[0] for r in rows(grid)]  # redis and, with observability on (the default), its exporter
        assert kept[0] == "redis" and set(kept) == {n for n in sources.runtime.compose.services if "redis" in n}
        assert "/redis" in status(app.screen)
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen))
        log = app.screen.query_one("#log")
        await until(pilot, lambda: len(log.lines) > 0)
        await pilot.press("slash", *"no line has this text")
        await until(pilot, lambda: len(log.lines) == 0)
        await pilot.press("escape", "escape")  # clear the filter, then leave the logs
        await until(pilot, lambda: not isinstance(app.screen, LogsScreen))


async def test_down_asks_first_and_up_is_idempotent(sources: Any) -> None:
    app = app_for(sources)
    async with app.run_test(size=SIZE) as pilot:
        grid = app.screen.grid
        await until(pilot, lambda: "redis" in [r[0] for r in rows(grid)])
        grid.move_cursor(row=[r[0] for r in rows(grid)].index("redis"))
        await pilot.press("d")
        assert await confirm(pilot, "n") == "Stop redis (its clients will see it go away)?"
        assert "cancelled" in status(app.screen)
        await pilot.press("u")  # up is idempotent: a running service is attached to, not restarted
        await until(pilot, lambda: "redis is up" in status(app.screen), 30)
    assert [s.state.value for s in sources.runtime.status(["redis"])] == ["healthy"]


async def test_command_mode_goes_anywhere_and_says_what_it_does_not_know(sources: Any) -> None:
    from spotctl.tui.components.command_line import CommandLine
    from spotctl.tui.components.help import HelpScreen
    from spotctl.tui.components.logs import LogsScreen

    app = app_for(sources, "scenarios")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon", *"red", "enter")  # a unique prefix will do
        await until(pilot, lambda: type(app.screen).__name__ == "RedisScreen")
        await pilot.press("colon", *"logs hu", "tab", "enter")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen) and app.screen.service == "hub")
        await pilot.press("escape")
        await pilot.press("colon", *"nope", "enter")
        await until(pilot, lambda: isinstance(app.screen, CommandLine) and "no command 'nope'" in app.screen.error)
        await pilot.press("escape", "question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "Delete" in help_of(app.screen) and ":logs SERVICE" in help_of(app.screen)
        await pilot.press("escape")
        await pilot.press("ctrl+p", *"Go to Kafka")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "KafkaScreen")


async def test_read_only_hides_every_action(sources: Any, redis_key: str) -> None:
    from spotctl.tui.components.help import HelpScreen

    app = app_for(sources, "rabbit", read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.grid.row_count > 0, 20)
        await until(pilot, lambda: screen_text(app).splitlines()[-1].strip() != "", 10)  # the footer is drawn
        footer = screen_text(app).splitlines()[-1]
        assert "Filter" in footer and "Purge" not in footer and "Redrive" not in footer
        await pilot.press("p")
        await pilot.pause(0.3)
        assert type(app.screen).__name__ == "RabbitScreen"  # no question: the action is not there
        await pilot.press("colon", *"redis", "enter")
        await until(pilot, lambda: type(app.screen).__name__ == "RedisScreen")
        await pilot.press("d", "question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "Delete" not in help_of(app.screen) and "Pattern" in help_of(app.screen)
    assert (await redis_exists(sources, redis_key))


# --- Redis --------------------------------------------------------------------------------------------

@pytest.fixture
async def redis_key(sources: Any) -> AsyncIterator[str]:
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(sources.endpoints.redis_url)
    key = f"tui-test:{uuid.uuid4().hex[:8]}"
    await client.set(key, "hello from the tui test", ex=600)
    yield key
    await client.delete(key)
    await client.aclose()


async def redis_exists(sources: Any, key: str) -> bool:
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(sources.endpoints.redis_url)
    try:
        return bool(await client.exists(key))
    finally:
        await client.aclose()


async def test_redis_finds_the_key_shows_it_and_deletes_it_after_asking(sources: Any, redis_key: str) -> None:
    app = app_for(sources, "redis")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "match" in status(app.screen))
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"tui-test:*", "enter")
        keys = app.screen.query_one("#keys")
        await until(pilot, lambda: redis_key in [r[0] for r in rows(keys)])
        row = next(r for r in rows(keys) if r[0] == redis_key)
        assert row[1] == "string" and row[2] != "no expiry"
        keys.move_cursor(row=[r[0] for r in rows(keys)].index(redis_key))
        text = app.screen.query_one("#text-value")
        await until(pilot, lambda: "hello from the tui test" in str(text.render()))
        await pilot.press("d")
        assert await confirm(pilot, "n") == f"Delete {redis_key} (string)?"
        assert await redis_exists(sources, redis_key)
        await pilot.press("d")
        await confirm(pilot, "y")
        await until(pilot, lambda: "deleted 1 key(s)" in status(app.screen))
    assert not await redis_exists(sources, redis_key)


# --- RabbitMQ ----------------------------------------------------------------------------------------

@pytest.fixture
def rabbit_queue(sources: Any) -> Any:
    """A queue with 3 messages and a dead-letter queue beside it with 2."""
    import pika

    from spotctl.clients.rabbit import Amqp

    name = f"tui-test-{uuid.uuid4().hex[:8]}"
    with Amqp(sources.endpoints.amqp_url) as rabbit:
        rabbit.channel.queue_declare(name)
        rabbit.channel.queue_declare(f"{name}.dlq")
        for i in range(3):
            rabbit.publish("", name, json.dumps({"n": i}).encode(), pika.BasicProperties())
        for i in range(2):
            rabbit.publish("", f"{name}.dlq", json.dumps({"dead": i}).encode(), pika.BasicProperties())
    yield name
    with Amqp(sources.endpoints.amqp_url) as rabbit:
        rabbit.channel.queue_delete(name)
        rabbit.channel.queue_delete(f"{name}.dlq")


def ready(sources: Any, queue: str) -> int:
    from spotctl.clients.rabbit import Amqp

    with Amqp(sources.endpoints.amqp_url) as rabbit:
        return rabbit.count(queue)


async def test_rabbit_peeks_purges_and_redrives_with_the_count(sources: Any, rabbit_queue: str) -> None:
    from spotctl.tui.components.rabbit import QueueScreen

    app = app_for(sources, "rabbit")
    async with app.run_test(size=SIZE) as pilot:
        grid = app.screen.grid
        await until(pilot, lambda: rabbit_queue in [r[0] for r in rows(grid)], 20)
        await filtered(pilot, rabbit_queue)
        assert sorted(r[0] for r in rows(grid)) == [rabbit_queue, f"{rabbit_queue}.dlq"]
        grid.move_cursor(row=[r[0] for r in rows(grid)].index(rabbit_queue))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, QueueScreen) and app.screen.grid.row_count == 3)
        assert '{"n": 0}' in rows(app.screen.grid)[0][4] and "3 of 3 message(s), requeued" in status(app.screen)
        await pilot.press("p")
        assert await confirm(pilot, "y") == f"Purge 3 ready message(s) from RabbitMQ queue '{rabbit_queue}'?"
        await until(pilot, lambda: "purged 3 message(s)" in status(app.screen))
        assert ready(sources, rabbit_queue) == 0
        await pilot.press("R")
        assert await confirm(pilot, "y") == f"Move 2 message(s) from {rabbit_queue}.dlq back to their queue?"
        await until(pilot, lambda: "moved 2 to" in status(app.screen))
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "RabbitScreen")
    assert (ready(sources, rabbit_queue), ready(sources, f"{rabbit_queue}.dlq")) == (2, 0)


# --- BullMQ ------------------------------------------------------------------------------------------

@pytest.fixture
async def failed_jobs(sources: Any) -> AsyncIterator[str]:
    """A queue of the test's own with two jobs a real BullMQ worker failed."""
    import asyncio

    from bullmq import Queue, Worker

    name = f"tui-test-{uuid.uuid4().hex[:8]}"
    queue = Queue(name, {"connection": sources.endpoints.redis_url})
    for i in range(2):
        await queue.add("doomed", {"i": i}, {"attempts": 1})

    async def fail(job: Any, token: str) -> None:
        raise RuntimeError(f"no such song {job.data['i']}")

    worker = Worker(name, fail, {"connection": sources.endpoints.redis_url})
    for _ in range(100):
        if (await queue.getJobCounts("failed"))["failed"] == 2:
            break
        await asyncio.sleep(0.1)
    await worker.close()
    yield name
    await queue.obliterate(force=True)
    await queue.close()


async def test_jobs_show_failed_reasons_retry_and_clean_after_asking(sources: Any, failed_jobs: str) -> None:
    from spotctl.clients import bullmq
    from spotctl.tui.components.jobs import JobListScreen

    app = app_for(sources, "jobs")
    async with app.run_test(size=SIZE) as pilot:
        grid = app.screen.grid
        await until(pilot, lambda: failed_jobs in [r[0] for r in rows(grid)], 20)
        await filtered(pilot, failed_jobs)
        assert rows(grid)[0][1] == "2"  # failed, first column after the name
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobListScreen) and app.screen.grid.row_count == 2)
        assert {r[4] for r in rows(app.screen.grid)} == {"no such song 0", "no such song 1"}
        await pilot.press("t")
        assert (await confirm(pilot, "y")).startswith("Retry failed job ")
        await until(pilot, lambda: "back to waiting" in status(app.screen))
        await pilot.press("c")
        assert await confirm(pilot, "y") == f"Remove 1 failed job(s) from BullMQ queue '{failed_jobs}'?"
        await until(pilot, lambda: "removed 1 failed job(s)" in status(app.screen))
    async with bullmq.JobsClient(sources.endpoints.redis_url) as jobs:
        assert await jobs.counts(failed_jobs, ["failed", "waiting"]) == {"failed": 0, "waiting": 1}


# --- Kafka -------------------------------------------------------------------------------------------

@pytest.fixture
def stopped_group(sources: Any) -> Any:
    """A topic with 3 records and a group that committed offset 1 and left."""
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic
    from kafka.structs import OffsetAndMetadata

    servers = sources.endpoints.kafka_bootstrap_servers
    topic = f"tui-test-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=servers)
    admin.create_topics([NewTopic(topic, 1, 1)])
    producer = KafkaProducer(bootstrap_servers=servers)
    for i in range(3):
        producer.send(topic, json.dumps({"i": i}).encode(), partition=0).get(timeout=10)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=servers, group_id=f"{topic}-group", enable_auto_commit=False)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(1, "", -1)})
    consumer.close()
    yield topic, f"{topic}-group", lambda: int(admin.list_group_offsets({f"{topic}-group": None})[
        f"{topic}-group"][TopicPartition(topic, 0)].offset)
    admin.delete_topics([topic])
    admin.close()


async def test_kafka_tails_a_topic_shows_lag_and_resets_a_group_after_asking(sources: Any, stopped_group: Any) -> None:
    from spotctl.tui.components.confirm import ChoiceScreen
    from spotctl.tui.components.kafka import GroupsScreen, TopicScreen

    topic, group, committed = stopped_group
    app = app_for(sources, "kafka")
    async with app.run_test(size=SIZE) as pilot:
        grid = app.screen.grid
        await until(pilot, lambda: topic in [r[0] for r in rows(grid)], 30)
        await filtered(pilot, topic)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TopicScreen) and app.screen.grid.row_count == 3, 30)
        assert [r[3] for r in rows(app.screen.grid)] == ['{"i": 0}', '{"i": 1}', '{"i": 2}']
        await pilot.press("escape", "g")
        await until(pilot, lambda: isinstance(app.screen, GroupsScreen) and group in
                    [r[0] for r in rows(app.screen.grid)], 30)
        await filtered(pilot, group)
        assert rows(app.screen.grid)[0][4] == "2"  # lag: log end 3 - committed 1
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.press("enter")  # the first choice: the earliest record
        question = await confirm(pilot, "y")
        assert question == f"Move 1 committed offset(s) of group '{group}' to the earliest?"
        await until(pilot, lambda: "moved 1 offset(s)" in status(app.screen), 30)
    assert committed() == 0


# --- hub, PostgreSQL, documents, load -----------------------------------------------------------------

async def test_hub_shows_workers_and_channels_and_watches_one_live(sources: Any) -> None:
    from spotctl.clients import hub_peer
    from spotctl.tui.components.hub import WatchScreen

    name = f"tui-{uuid.uuid4().hex[:8]}"
    async with hub_peer.connect(sources.endpoints, f"{name}-alice") as alice:
        created = await alice.request("channel_create", {"kind": "public", "name": name})
        channel = f"chat:{created['channel']['id']}"
        app = app_for(sources, "hub")
        async with app.run_test(size=SIZE) as pilot:
            grid = app.screen.grid
            await until(pilot, lambda: channel in [r[0] for r in rows(grid)], 20)
            assert next(r for r in rows(grid) if r[0] == channel)[2:4] == [name, "1"]
            await until(pilot, lambda: "workers" in status(app.screen) and app.screen.query_one("#workers").row_count)
            await filtered(pilot, name)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, WatchScreen) and f"#{name}" in status(app.screen))
            frames = app.screen.query_one("#frames")
            await alice.request("chat_message", {"channel_id": created["channel"]["id"], "text": "hi tui"})
            await until(pilot, lambda: any(f"{name}-alice: hi tui" in str(line.text) for line in frames.lines))
            await pilot.press("i", *"hello alice", "enter")
            await until(pilot, lambda: any("spotctl-tui: hello alice" in str(line.text) for line in frames.lines))
            await pilot.press("escape", "p")
            await until(pilot, lambda: any("present:" in str(line.text) for line in frames.lines))
        assert any(f["content"].get("text") == "hello alice" for f in alice.frames if f["type"] == "chat_message")


async def test_pg_lists_describes_and_queries_read_only(sources: Any) -> None:
    from spotctl.tui.components.pg import DescribeScreen, ResultScreen

    app = app_for(sources, "pg")
    async with app.run_test(size=SIZE) as pilot:
        grid = app.screen.grid
        await until(pilot, lambda: "users" in [r[0] for r in rows(grid)])
        await filtered(pilot, "users")
        grid.move_cursor(row=[r[0] for r in rows(grid)].index("users"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DescribeScreen) and app.screen.grid.row_count > 0)
        assert ["email", "column"] == next(r for r in rows(app.screen.grid) if r[0] == "email")[:2]
        await pilot.press("escape", "e", *"SELECT s.id, n FROM songs s, generate_series(1, 2) n", "enter")
        await until(pilot, lambda: isinstance(app.screen, ResultScreen) and app.screen.grid.row_count > 0)
        assert app.screen.grid.row_count == 200 and "the first 200" in status(app.screen)  # of 400 rows
        await pilot.press("escape", "e", "ctrl+a", "ctrl+k", *"DELETE FROM songs", "enter")
        await until(pilot, lambda: "read-only transaction" in status(app.screen))


async def test_documents_name_the_store_they_show(sources: Any) -> None:
    from spotctl.tui import data

    store, collections = data.doc_store(sources)
    app = app_for(sources, "docs")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.grid.row_count > 0)
        assert store in status(app.screen)
        assert [r[0] for r in rows(app.screen.grid)] == [c["name"] for c in collections]
    if sources.endpoints.mongo_url is None:
        assert "PostgreSQL JSONB" in store and collections[0]["name"] == "playlists"


async def test_load_runs_a_scenario_with_live_charts_and_a_verdict(sources: Any) -> None:
    from spotctl.tui.components.load import LoadScreen

    app = app_for(sources, "load")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, LoadScreen)
        for key, value in (("users", "5"), ("duration", "1")):
            box = screen.query_one(f"#{key}")
            box.value = value
        screen.query_one("#users").blur()
        await pilot.press("g")
        assert "Run load scenario connections: 5 users held for 1 s" in await confirm(pilot, "y")
        verdict = screen.query_one("#verdict")
        await until(pilot, lambda: any("report:" in str(line.text) for line in verdict.lines), 120)
        text = "\n".join(str(line.text) for line in verdict.lines)
        assert "PASSED connections" in text, text
        report = Path(text.split("report: ", 1)[1].strip())
        assert report.is_file() and len(screen.series["conns"]) > 0


# --- scenarios ---------------------------------------------------------------------------------------

async def test_scenarios_list_every_one_run_the_rest_in_order_and_reset_after_asking(sources: Any) -> None:
    from spotctl.guide import catalog, progress
    from spotctl.tui.components.scenarios import GuideScreen

    app = app_for(sources, "scenarios")
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.screen.grid
        await until(pilot, lambda: grid.row_count > 0)
        assert [r[0] for r in rows(grid)] == catalog.names()  # every one, even at 80x24
        app.open_scenario("search")
        await until(pilot, lambda: isinstance(app.screen, GuideScreen) and bool(app.screen.query("#step-title")))
        await until(pilot, lambda: "Step 1/2 · Search" in str(app.screen.query_one("#step-title").render()))
        await pilot.press("a")
        log = app.screen.query_one("#results")
        await until(pilot, lambda: "search: " not in status(app.screen) and
                    sum("PASS in" in str(line.text) for line in log.lines) == 2, 60)
        lines = [str(line.text) for line in log.lines]
        marks = [i for i, line in enumerate(lines) if line.startswith(("Step 1/2", "Step 2/2")) or "PASS in" in line]
        assert [lines[i].split(" ·")[0] if lines[i].startswith("Step") else "PASS" for i in marks] == [
            "Step 1/2", "PASS", "Step 2/2", "PASS"]  # each header above its own results
        assert progress.load(Path(sources.state_dir), "search").passed == frozenset({1, 2})
        await pilot.press("x")
        assert "Forget your progress in search (done)" in await confirm(pilot, "n")
        assert progress.load(Path(sources.state_dir), "search").passed == frozenset({1, 2})
        await pilot.press("x")
        await confirm(pilot, "y")
        assert progress.load(Path(sources.state_dir), "search").passed == frozenset()


# --- a store down, and the CLI agreeing with the TUI ---------------------------------------------------

async def test_a_store_that_is_down_is_one_line_not_a_crash(sources: Any) -> None:
    import socket
    from dataclasses import replace

    from spotctl.endpoints import Endpoints

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**sources.endpoints.env, "RABBITMQ_MGMT_URL": f"http://127.0.0.1:{port}",
           "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{port}/"}
    app = app_for(replace(sources, endpoints=Endpoints(env=env)), "rabbit")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "not reachable" in status(app.screen))
        assert "spotctl up rabbitmq" in status(app.screen)


def test_kafka_topics_agree_with_the_cli_after_a_batched_write(sources: Any, cli: Callable[..., Any]) -> None:
    """One multi-record batch: tansu reports its end as base offset + 1. The TUI and `spotctl kafka topics`
    read through the same client, which probes the real end, so both count all five records."""
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic

    from spotctl.tui import brokers

    servers, topic = sources.endpoints.kafka_bootstrap_servers, f"tui-batch-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=servers)
    admin.create_topics([NewTopic(topic, 1, 1)])
    try:
        producer = KafkaProducer(bootstrap_servers=servers, linger_ms=200)
        for i in range(5):
            producer.send(topic, str(i).encode(), partition=0)
        producer.flush()
        producer.close()
        shown = next(t for t in brokers.kafka_topics(sources) if t["topic"] == topic)
        listed = cli("kafka", "topics", "-o", "json", env={**os.environ, **sources.endpoints.env})
        assert listed.returncode == 0, listed.stderr
        assert shown == next(t for t in json.loads(listed.stdout) if t["topic"] == topic)
        assert shown["messages"] == 5
    finally:
        admin.delete_topics([topic])
        admin.close()
