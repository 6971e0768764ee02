"""`spotctl tui` driven with Textual's Pilot against the real test stack."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.stack

SIZE = (180, 50)


@pytest.fixture(scope="module")
def sources(stack: Any, cli: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    from spotctl import project
    from spotctl.endpoints import Endpoints
    from spotctl.stack import runtime
    from spotctl.tui.data import Sources

    stack.up("api", "workers")
    seeded = cli("seed", "--songs", "200", env={**os.environ, **stack.env})
    assert seeded.returncode == 0, seeded.stderr
    rt = getattr(stack, "runtime", None) or runtime.select(None, project.current())
    return Sources(runtime=rt, endpoints=Endpoints(env=stack.env), state_dir=tmp_path_factory.mktemp("tui-state"))


@pytest.fixture
async def redis_key(sources: Any) -> AsyncIterator[str]:
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(sources.endpoints.redis_url)
    key = f"tui-test:{uuid.uuid4().hex[:8]}"
    await client.set(key, "hello from the tui test", ex=600)
    yield key
    await client.delete(key)
    await client.aclose()


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Let workers run until `condition` holds (fails the test after `timeout`)."""
    waited = 0.0
    while not condition():
        assert waited < timeout, "condition not met in time"
        await pilot.pause(0.1)
        waited += 0.1


def cells(table: Any) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def status(screen: Any) -> str:
    return str(screen.query_one("#status").render())


async def test_services_table_shows_redis_healthy_and_logs_open_with_a_filter(sources: Any) -> None:
    from textual.widgets import DataTable, RichLog

    from spotctl.tui.app import SpotctlApp
    from spotctl.tui.components.logs import LogsScreen

    app = SpotctlApp(sources)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: ["redis", "healthy"] in [r[:2] for r in cells(table)])
        names = [r[0] for r in cells(table)]
        table.move_cursor(row=names.index("redis"))
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen))
        log = app.screen.query_one(RichLog)
        await until(pilot, lambda: len(log.lines) > 0)
        before = len(log.lines)
        await pilot.press("slash", *"no line has this text")
        await until(pilot, lambda: len(log.lines) == 0)
        await pilot.press("escape", "escape")  # clear the filter, then leave the logs
        await until(pilot, lambda: not isinstance(app.screen, LogsScreen))
        assert before > 0


async def test_down_asks_first_and_up_is_idempotent(sources: Any) -> None:
    from textual.widgets import DataTable

    from spotctl.tui.app import SpotctlApp
    from spotctl.tui.components.confirm import ConfirmScreen

    app = SpotctlApp(sources)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: "redis" in [r[0] for r in cells(table)])
        table.move_cursor(row=[r[0] for r in cells(table)].index("redis"))
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await pilot.press("u")  # up is idempotent: a running service is attached to, not restarted
        await until(pilot, lambda: "redis is up" in status(app.screen), 30)
    assert [s.state.value for s in sources.runtime.status(["redis"])] == ["healthy"]


async def test_redis_screen_finds_the_key_the_test_set(sources: Any, redis_key: str) -> None:
    from textual.widgets import DataTable

    from spotctl.tui.app import SpotctlApp

    app = SpotctlApp(sources, start="redis")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "match" in status(app.screen))
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"tui-test:*", "enter")
        keys = app.screen.query_one("#keys", DataTable)
        await until(pilot, lambda: redis_key in [r[0] for r in cells(keys)])
        row = next(r for r in cells(keys) if r[0] == redis_key)
        assert row[1] == "string" and row[2] != "no expiry"
        keys.move_cursor(row=[r[0] for r in cells(keys)].index(redis_key))
        text = app.screen.query_one("#text-value")
        await until(pilot, lambda: "hello from the tui test" in str(text.render()))
        assert redis_key in str(app.screen.query_one("#heading").render())


@pytest.mark.parametrize(("key", "screen", "expect"), [
    ("3", "RabbitScreen", "notifications.delivery"),
    ("4", "KafkaScreen", "song_played"),
    ("5", "JobsScreen", "recently-played"),
])
async def test_broker_screens_list_the_stacks_queues_and_topics(sources: Any, key: str, screen: str,
                                                                 expect: str) -> None:
    from textual.widgets import DataTable

    from spotctl.tui.app import SpotctlApp

    app = SpotctlApp(sources)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
        await until(pilot, lambda: type(app.screen).__name__ == screen)
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: expect in [r[0] for r in cells(table)], 20)
        assert "rows" in status(app.screen)


async def test_command_palette_and_help(sources: Any) -> None:
    from spotctl.tui.app import SpotctlApp
    from spotctl.tui.components.help import HelpScreen

    app = SpotctlApp(sources)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.press(*"Go to Kafka")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "KafkaScreen")


async def test_a_scenario_runs_step_by_step(sources: Any) -> None:
    from textual.widgets import RichLog

    from spotctl.guide import progress
    from spotctl.tui.app import SpotctlApp

    app = SpotctlApp(sources, start="scenarios")
    async with app.run_test(size=SIZE) as pilot:
        app.open_scenario("search")
        await pilot.pause(0.2)
        assert "Step 1/2 · Search" in str(app.screen.query_one("#step-title").render())
        await pilot.press("n")
        results = app.screen.query_one("#results", RichLog)
        await until(pilot, lambda: "PASS in" in "\n".join(str(line.text) for line in results.lines), 30)
        assert "Step 2/2" in str(app.screen.query_one("#step-title").render())
    assert progress.load(Path(sources.state_dir), "search").passed == frozenset({1})


def test_kafka_topics_agree_with_the_cli_after_a_batched_write(sources: Any, cli: Callable[..., Any]) -> None:
    """One multi-record batch: tansu reports its end as base offset + 1. The TUI and `spotctl kafka topics`
    read through the same client, which probes the real end, so both count all five records."""
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic

    from spotctl.tui import data

    servers, topic = sources.endpoints.kafka_bootstrap_servers, f"tui-batch-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=servers)
    admin.create_topics([NewTopic(topic, 1, 1)])
    try:
        producer = KafkaProducer(bootstrap_servers=servers, linger_ms=200)
        for i in range(5):
            producer.send(topic, str(i).encode(), partition=0)
        producer.flush()
        producer.close()
        shown = next(t for t in data.kafka_topics(sources) if t["topic"] == topic)
        listed = cli("kafka", "topics", "-o", "json", env={**os.environ, **sources.endpoints.env})
        assert listed.returncode == 0, listed.stderr
        assert shown == next(t for t in json.loads(listed.stdout) if t["topic"] == topic)
        assert shown["messages"] == 5
    finally:
        admin.delete_topics([topic])
        admin.close()
