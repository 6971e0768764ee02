"""`spotctl hub` against the real hub: rooms, a chat channel and notifications in a namespace of the test's own."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from spotctl_sandbox.common import tokens
from spotctl_sandbox.realtime.client import HubClient

pytestmark = [pytest.mark.stack,
              pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]


@pytest.fixture(scope="module")
def hub(stack: Any) -> dict[str, str]:
    try:
        stack.up("hub")
    except RuntimeError:
        # In external mode another session's hub may already hold the port; use it if it answers.
        with urllib.request.urlopen(f"{stack.env['HUB_METRICS_URL']}/health", timeout=2) as resp:
            assert resp.status == 200
    return dict(stack.env)


@pytest.fixture
async def user(hub: dict[str, str], uid: str) -> AsyncIterator[Callable[[str], Awaitable[HubClient]]]:
    """`await user("alice")`: a connected client in the test's namespace (`uid`), closed afterwards."""
    redis = aioredis.from_url(hub["REDIS_URL"])
    clients: list[HubClient] = []

    async def make(name: str) -> HubClient:
        token = await tokens.issue(redis, hub["JWT_SECRET"], name, name)
        client = HubClient(hub["HUB_URL"], token, namespace=uid, reconnect=False)
        await client.connect()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
    keys = [k async for k in redis.scan_iter(match=f"hub:{uid}:*", count=1000)]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def test_send_and_watch_a_room(cli, hub: dict[str, str], uid: str) -> None:
    watcher = cli.popen("hub", "watch", f"room:{uid}", "--ns", uid, "--user", "watcher", "--count", "2",
                        "--timeout", "20", "-o", "json")
    assert watcher.stderr is not None
    while "watching" not in (line := watcher.stderr.readline()):
        assert line, "watch exited early"
    first = cli("hub", "send", uid, "hello", "--ns", uid, "--user", "alice", "-o", "json")
    assert first.code == 0, first
    assert first.json()["target"] == f"room:{uid}" and first.json()["message_id"]
    assert cli("hub", "send", uid, '{"n": 2}', "--ns", uid, "--user", "bob").code == 0
    out, _ = watcher.communicate(timeout=30)
    assert watcher.returncode == 0
    frames = [json.loads(line) for line in out.splitlines()]
    assert [(f["content"]["from"], f["content"]["data"]) for f in frames] == [("alice", "hello"), ("bob", {"n": 2})]


def test_watch_fails_when_nothing_arrives(cli, hub: dict[str, str], uid: str) -> None:
    result = cli("hub", "watch", uid, "--ns", uid, "--count", "1", "--timeout", "1")
    assert result.code == 1 and "only 0 of 1" in result.err


def test_connect_reads_commands_and_prints_frames(cli, hub: dict[str, str], uid: str) -> None:
    script = f"hi before joining\n/join {uid}\nhello room\n/raw ping {{}}\n/quit\nnot sent\n"
    result = cli("hub", "connect", "--ns", uid, "--user", "carol", "--linger", "1", "-o", "json", input=script)
    assert result.code == 0, result
    frames = result.lines()
    said = [f["content"]["data"] for f in frames if f["type"] == "room_message"]
    assert said == ["hello room"]
    assert "pong" in [f["type"] for f in frames]
    assert "join a channel first" in result.err


def test_connect_chats_in_a_channel_found_by_name(cli, hub: dict[str, str], uid: str) -> None:
    """The help's example as written, then a second person joining the same name and reading it."""
    import codecs
    import re

    example = next(line for line in cli("hub", "connect", "--help").out.splitlines() if "printf" in line)
    script = codecs.decode(re.search(r"printf '(.*?)'", example).group(1), "unicode_escape")  # type: ignore[union-attr]
    assert script.startswith("/join #general\n")
    first = cli("hub", "connect", "--ns", uid, "--user", "alice", "--linger", "0.5", input=script)
    assert first.code == 0, first
    assert re.search(r"^\[\d\d:\d\d:\d\d\] #general alice: hello$", first.out, re.M), first.out
    second = cli("hub", "connect", "--ns", uid, "--user", "bob", "--linger", "0.5", "--join", "#general",
                 input="hi alice\n/who\n")
    assert second.code == 0, second
    said = [line.split("] ", 1)[1] for line in second.out.splitlines() if line.startswith("[")]
    assert said == ["#general alice: hello", "#general bob: hi alice"]  # history first, then what bob said
    assert "alice (" in second.err and "bob (online)" in second.err
    raw = cli("hub", "connect", "--ns", uid, "--user", "carol", "--raw", "--join", "#general", input="")
    assert [f["content"]["text"] for f in raw.lines() if f["type"] == "chat_message"] == ["hello", "hi alice"]


async def test_notify_reaches_a_connected_user(cli, user: Callable[[str], Awaitable[HubClient]], uid: str) -> None:
    dana = await user("dana")
    result = cli("hub", "notify", "dana", "--ns", uid, "--title", "New follower", "--body", "eve follows you",
                 "--priority", "CRITICAL", "-o", "json")
    assert result.code == 0, result
    sent = result.json()
    assert sent["priority"] == "CRITICAL" and {"websocket", "push"} <= set(sent["channels"])
    frame = await dana.recv(timeout=10)
    assert (frame["type"], frame["content"]["id"], frame["content"]["title"]) == (
        "notification", sent["id"], "New follower")

    assert cli("hub", "notify", "dana", "--ns", uid, "--priority", "URGENT").code == 2
    assert cli("hub", "notify", "dana", "--ns", uid, "--data", "[1]").code == 2


async def test_presence_of_a_chat_channel(cli, user: Callable[[str], Awaitable[HubClient]], uid: str) -> None:
    erin = await user("erin")
    created = await erin.request("channel_create", {"kind": "public", "name": f"{uid}-general"})
    channel_id = created["channel"]["id"]
    await erin.request("channel_join", {"channel_id": channel_id})
    result = cli("hub", "presence", f"chat:{channel_id}", "--ns", uid, "--user", "erin", "-o", "json")
    assert result.code == 0, result
    assert {"user_id": "erin", "status": "online"}.items() <= result.json()[0].items()
    assert cli("hub", "presence", "lobby", "--ns", uid).code == 2


async def test_stats_counts_connections_per_worker(cli, user: Callable[[str], Awaitable[HubClient]]) -> None:
    frank = await user("frank")
    await frank.request("join", {"room": "stats"})
    await frank.request("room_message", {"room": "stats", "data": "delivered to frank"})
    result = cli("hub", "stats", "--interval", "0.5", "-o", "json")
    assert result.code == 0, result
    stats = result.json()
    assert len(stats["workers"]) == stats["health"]["workers"] >= 1
    assert stats["total"]["connections"] >= 1 and stats["total"]["in_per_s"] >= 0
    delivery = stats["delivery"]  # at least frank's room message was delivered since the hub started
    assert 0 < delivery["p50_ms"] <= delivery["p99_ms"] and delivery["window"] in ("interval", "since start")


async def test_topics_list_channels_with_members_and_rooms_in_use(cli, user: Callable[[str], Awaitable[HubClient]],
                                                                  uid: str) -> None:
    gina = await user("gina")
    created = await gina.request("channel_create", {"kind": "public", "name": "topics-test"})
    await gina.request("join", {"room": "jam"})
    rows = {r["topic"]: r for r in cli("hub", "topics", "--ns", uid, "-o", "json").json()}
    channel = rows[f"chat:{created['channel']['id']}"]
    assert (channel["name"], channel["members"], channel["workers"]) == ("topics-test", 1, 1)
    assert rows["room:jam"]["members"] is None and rows["room:jam"]["workers"] == 1
    assert not [t for t in rows if t.startswith("user:")]


def test_bad_token_and_down_hub_are_one_line(cli, hub: dict[str, str], closed_port) -> None:
    refused = cli("hub", "send", "lobby", "x", "--token", "not-a-jwt")
    assert refused.code == 1 and "refused" in refused.err and "Traceback" not in refused.err
    url = f"ws://127.0.0.1:{closed_port()}/ws"
    assert cli("hub", "send", "lobby", "x", "--url", url).down("hub", url)
    metrics = f"http://127.0.0.1:{closed_port()}"
    assert cli("hub", "stats", "--metrics-url", metrics).down("hub", metrics)
