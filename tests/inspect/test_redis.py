"""`spotctl redis` against a real Redis: keys of every type, made and removed by each test."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

pytestmark = pytest.mark.stack


@pytest.fixture
def r(stack: Any, uid: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(stack.env["REDIS_URL"], decode_responses=True)
    yield client
    for key in client.scan_iter(match=f"{uid}:*"):
        client.delete(key)
    client.close()


def test_info_reports_memory_clients_and_hit_rates(cli) -> None:
    result = cli("redis", "info", "-o", "json")
    assert result.code == 0, result
    info = result.json()
    assert info["memory"]["used_bytes"] > 0
    assert info["clients"]["connected"] >= 1
    assert info["keyspace"]["hit_rate"] is None or 0 <= info["keyspace"]["hit_rate"] <= 1
    assert set(info["app_cache"]) == {"hits", "misses", "hit_rate"}


def test_keys_scans_by_pattern_with_type_and_ttl(cli, r: redis.Redis, uid: str) -> None:
    r.set(f"{uid}:s", "v", ex=300)
    r.hset(f"{uid}:h", mapping={"a": "1"})
    r.rpush(f"{uid}:l", "x")
    result = cli("redis", "keys", f"{uid}:*", "-o", "json")
    assert result.code == 0, result
    found = {k["key"]: k for k in result.json()["keys"]}
    assert set(found) == {f"{uid}:s", f"{uid}:h", f"{uid}:l"}
    assert found[f"{uid}:h"]["type"] == "hash" and found[f"{uid}:h"]["ttl"] == -1
    assert 0 < found[f"{uid}:s"]["ttl"] <= 300

    limited = cli("redis", "keys", f"{uid}:*", "--limit", "2", "-o", "json").json()
    assert len(limited["keys"]) == 2 and limited["truncated"] is True


def test_get_is_type_aware(cli, r: redis.Redis, uid: str) -> None:
    r.set(f"{uid}:str", '{"a": 1}')
    r.hset(f"{uid}:hash", mapping={"f1": "v1", "f2": "v2"})
    r.rpush(f"{uid}:list", "a", "b", "c")
    r.sadd(f"{uid}:set", "x", "y")
    r.zadd(f"{uid}:zset", {"low": 1, "high": 5})
    r.xadd(f"{uid}:stream", {"event": "play"})
    r.expire(f"{uid}:list", 100)

    def get(key: str, *extra: str) -> dict[str, Any]:
        result = cli("redis", "get", f"{uid}:{key}", "-o", "json", *extra)
        assert result.code == 0, result
        return dict(result.json())

    assert get("str")["value"] == '{"a": 1}'
    assert get("hash")["value"] == {"f1": "v1", "f2": "v2"}
    lst = get("list")
    assert lst["value"] == ["a", "b", "c"] and lst["type"] == "list" and 0 < lst["ttl"] <= 100
    assert get("set")["value"] == ["x", "y"]
    assert get("zset")["value"] == [{"member": "high", "score": 5.0}, {"member": "low", "score": 1.0}]
    stream = get("stream")
    assert stream["type"] == "stream" and stream["value"][0]["fields"] == {"event": "play"}
    short = get("list", "--limit", "2")
    assert short["value"] == ["a", "b"] and short["truncated"] is True and short["length"] == 3

    table = cli("redis", "get", f"{uid}:hash")
    assert table.code == 0 and "f1" in table.out and "hash" in table.err
    ranked = cli("redis", "get", f"{uid}:zset", "--limit", "1")
    assert ranked.code == 0 and "high" in ranked.out and "low" not in ranked.out


def test_keys_and_values_print_literally(cli, r: redis.Redis, uid: str) -> None:
    """Keys such as BullMQ's `bull:email:meta` are shown (and copy-paste) as stored, never as emoji or markup."""
    r.hset(f"{uid}:email:meta", mapping={"tag:[red]x": ":thumbs_up:"})
    listed = cli("redis", "keys", f"{uid}:*")
    assert listed.code == 0 and f"{uid}:email:meta" in listed.out, listed
    shown = cli("redis", "get", f"{uid}:email:meta")
    assert "tag:[red]x" in shown.out and ":thumbs_up:" in shown.out and f"{uid}:email:meta" in shown.err


def test_get_missing_key_fails_with_one_line(cli, uid: str) -> None:
    result = cli("redis", "get", f"{uid}:nothing")
    assert result.code == 1
    assert "no key" in result.err and "Traceback" not in result.err


def test_top_orders_a_sorted_set_and_rejects_other_types(cli, r: redis.Redis, uid: str) -> None:
    r.zadd(f"{uid}:trending", {"song:1": 3, "song:2": 10, "song:3": 7})
    result = cli("redis", "top", f"{uid}:trending", "2", "-o", "json")
    assert result.code == 0, result
    assert [(x["member"], x["score"]) for x in result.json()] == [("song:2", 10.0), ("song:3", 7.0)]

    r.set(f"{uid}:plain", "x")
    wrong = cli("redis", "top", f"{uid}:plain")
    assert wrong.code == 2 and "not a sorted set" in wrong.err


def test_del_refuses_without_yes_then_deletes(cli, r: redis.Redis, uid: str) -> None:
    r.set(f"{uid}:doomed", "1")
    assert cli("redis", "del", f"{uid}:doomed").refused()
    assert r.exists(f"{uid}:doomed") == 1

    result = cli("redis", "del", f"{uid}:doomed", f"{uid}:absent", "--yes", "-o", "json")
    assert result.code == 0, result
    assert result.json() == {"deleted": 1, "keys": [f"{uid}:doomed"]}
    assert r.exists(f"{uid}:doomed") == 0
    assert cli("redis", "del", f"{uid}:doomed", "--yes").code == 1


def test_subscribe_tails_messages_as_json_lines(cli, r: redis.Redis, uid: str) -> None:
    proc = cli.popen("redis", "subscribe", f"{uid}:chan", f"{uid}:pat:*", "--count", "2", "--timeout", "15",
                     "-o", "json")
    assert proc.stderr is not None and "listening" in proc.stderr.readline()
    deadline = time.monotonic() + 5
    while r.pubsub_numsub(f"{uid}:chan")[0][1] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    r.publish(f"{uid}:chan", '{"n": 1}')
    r.publish(f"{uid}:pat:x", "plain text")
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["channel"], e["data"]) for e in events] == [(f"{uid}:chan", {"n": 1}), (f"{uid}:pat:x", "plain text")]
    assert events[1]["pattern"] == f"{uid}:pat:*"


def test_subscribe_fails_when_too_few_messages_arrive(cli, uid: str) -> None:
    result = cli("redis", "subscribe", f"{uid}:quiet", "--count", "1", "--timeout", "0.5")
    assert result.code == 1 and "only 0 of 1" in result.err


def test_down_redis_is_one_line_naming_the_url(cli, closed_port) -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    assert cli("redis", "info", "--url", url).down("redis", url)
    assert cli("redis", "keys", env={"REDIS_URL": url}).down("redis", url)
