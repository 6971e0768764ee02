"""`spotctl redis`, `jobs` and `config` on a Redis Cluster, run as a user would (a subprocess), pointed at
it the way the services are: REDIS_CLUSTER_URL wins over REDIS_URL (here a port nothing answers on)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from bullmq import Queue

from spotctl_sandbox import contract
from spotctl_sandbox.common import redisconn
from tests.cluster.nodes import Cluster
from tests.conftest import ROOT, run_cli

NOWHERE = "redis://127.0.0.1:1/0"


@pytest.fixture
def seed(cluster: Cluster) -> str:
    """A cluster URL naming one node only: the CLI must find the others itself."""
    return f"redis+cluster://127.0.0.1:{cluster.nodes[0].port}"


@pytest.fixture
def spotctl(seed: str) -> Any:
    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env={"REDIS_CLUSTER_URL": seed, "REDIS_URL": NOWHERE, **env}, timeout=60)
    return run


@pytest.fixture
def keyed(cluster: Cluster) -> Iterator[dict[int, str]]:
    """One key on each master (port -> key), removed afterwards."""
    uid = "cli" + uuid.uuid4().hex[:8]
    client = redisconn.connect(cluster.url, decode_responses=True)
    by_master: dict[int, str] = {}
    for i in range(200):
        key = f"{uid}:{i}"
        by_master.setdefault(cluster.master_of(key).port, key)
        if len(by_master) == 3:
            break
    for port, key in by_master.items():
        client.set(key, f"on {port}")
    yield by_master
    client.delete(*by_master.values())
    client.close()


def test_keys_lists_the_keys_of_every_master_and_get_reads_one_held_by_another_node(
        spotctl: Any, keyed: dict[int, str], cluster: Cluster) -> None:
    uid = next(iter(keyed.values())).split(":")[0]
    listed = spotctl("redis", "keys", f"{uid}:*", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(k["key"] for k in json.loads(listed.stdout)["keys"]) == sorted(keyed.values())

    elsewhere = next(port for port in keyed if port != cluster.nodes[0].port)  # not the node in the URL
    got = spotctl("redis", "get", keyed[elsewhere], "-o", "json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["value"] == f"on {elsewhere}"


def test_del_on_a_cluster_still_asks_then_deletes_keys_of_several_masters(spotctl: Any, keyed: dict[int, str],
                                                                          cluster: Cluster) -> None:
    keys = list(keyed.values())[:2]
    refused = spotctl("redis", "del", *keys)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    done = spotctl("redis", "del", *keys, "--yes", "-o", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["deleted"] == 2
    with redisconn.connect(cluster.url) as client:
        assert client.exists(*keys) == 0


def test_info_shows_the_cluster_its_nodes_and_the_masters_memory(spotctl: Any) -> None:
    shown = spotctl("redis", "info", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["cluster"] == {"state": "ok", "slots_ok": 16384, "slots_assigned": 16384, "masters": 3,
                               "replicas": 3}
    assert sorted(n["role"] for n in info["nodes"]) == ["master"] * 3 + ["slave"] * 3
    assert info["memory"]["used_bytes"] == sum(n["used_bytes"] for n in info["nodes"] if n["role"] == "master")
    table = spotctl("redis", "info", COLUMNS="80")
    assert "3 masters, 3 replicas" in table.stdout and max(map(len, table.stdout.splitlines())) <= 80


def test_jobs_queues_finds_a_queue_under_the_cluster_prefix(spotctl: Any, cluster: Cluster) -> None:
    name = "cli-" + uuid.uuid4().hex[:8]

    async def made(action: str) -> None:
        queue = Queue(name, {"connection": redisconn.connect_async(cluster.url, decode_responses=True),
                             "prefix": contract.BULL_CLUSTER_PREFIX})
        try:
            await (queue.add("hello", {"n": 1}) if action == "add" else queue.obliterate(force=True))
        finally:
            await queue.close()

    asyncio.run(made("add"))
    try:
        shown = spotctl("jobs", "queues", "-o", "json")
        assert shown.returncode == 0, shown.stderr
        rows = {r["queue"]: r for r in json.loads(shown.stdout)}
        assert rows[name]["waiting"] == 1
        listed = spotctl("jobs", "list", name, "-o", "json")
        assert [j["name"] for j in json.loads(listed.stdout)["jobs"]] == ["hello"]
    finally:
        asyncio.run(made("obliterate"))


def test_config_says_the_cluster_url_is_in_effect(spotctl: Any, seed: str) -> None:
    config = json.loads(spotctl("config", "-o", "json").stdout)
    assert config["endpoints"]["REDIS_CLUSTER_URL"] == seed and config["redis_in_effect"] == "REDIS_CLUSTER_URL"
    assert config["from"]["REDIS_CLUSTER_URL"] == "env REDIS_CLUSTER_URL; in effect"
    single = json.loads(spotctl("config", "-o", "json", REDIS_CLUSTER_URL="").stdout)
    assert single["redis_in_effect"] == "REDIS_URL" and single["endpoints"]["REDIS_CLUSTER_URL"] is None


def test_a_flag_wins_over_the_environment_and_a_bad_cluster_url_is_one_line(spotctl: Any, cluster: Cluster) -> None:
    plain = f"redis://127.0.0.1:{cluster.nodes[1].port}/0"  # a node dialled as one Redis: --url wins
    wrong = spotctl("redis", "info", "--url", plain)
    assert wrong.returncode == 2 and f"{plain} is a node of a Redis Cluster" in wrong.stderr
    assert "redis+cluster://" in wrong.stderr and "Traceback" not in wrong.stderr
    bad = spotctl("redis", "keys", REDIS_CLUSTER_URL="redis+cluster://127.0.0.1")
    assert bad.returncode == 2 and "REDIS_CLUSTER_URL" in bad.stderr and "Traceback" not in bad.stderr
    down = spotctl("jobs", "queues", "--url", "redis+cluster://127.0.0.1:1")
    assert down.returncode == 1 and "not reachable at redis+cluster://127.0.0.1:1" in down.stderr


def test_subscribe_sharded_hears_what_the_hub_publishes_there(seed: str, cluster: Cluster) -> None:
    channel = "cli-" + uuid.uuid4().hex[:8]
    proc = subprocess.Popen([sys.executable, "-m", "spotctl", "redis", "subscribe", "--sharded", channel,
                             "--count", "1", "--timeout", "20", "-o", "json"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "NO_COLOR": "1", "REDIS_CLUSTER_URL": seed, "REDIS_URL": NOWHERE})
    with redisconn.connect(cluster.url) as client:
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            client.spublish(channel, "hello")  # until the subscriber is there to hear it
            time.sleep(0.2)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert json.loads(out.splitlines()[0])["data"] == "hello"


def test_hub_notify_writes_the_notification_where_the_hub_reads_it(spotctl: Any, cluster: Cluster) -> None:
    user = "cli" + uuid.uuid4().hex[:8]
    sent = spotctl("hub", "notify", user, "-o", "json")
    assert sent.returncode == 0, sent.stderr
    nid = json.loads(sent.stdout)["id"]
    with redisconn.connect(cluster.url, decode_responses=True) as client:
        assert client.zscore(f"hub:default:notif-pending:{user}", nid) is not None
        client.delete(f"hub:default:notif-pending:{user}", f"hub:default:notif:{nid}")


def test_the_hubs_sharded_topics_are_found_on_every_shard_with_their_subscribers(cluster: Cluster) -> None:
    from spotctl.clients.redis import RedisClient
    from spotctl_sandbox.realtime import keys
    from spotctl_sandbox.realtime.topics import Topic

    ns = "cli" + uuid.uuid4().hex[:6]
    rooms = [keys.channel(ns, Topic.room(f"r{i}")) for i in range(12)]
    assert len({cluster.master_of(c).port for c in rooms}) > 1  # the topics live on several shards
    links = []
    for channel in [*rooms, rooms[0]]:  # each on its master, as the hub's workers SSUBSCRIBE; rooms[0] twice
        link = cluster.master_of(channel).client().pubsub()
        link.ssubscribe(channel)
        assert link.get_message(timeout=2)["type"] == "ssubscribe"  # in place before anyone asks
        links.append(link)
    try:
        with RedisClient(cluster.url, timeout=5) as r:
            found = r.subscribed(keys.channel_pattern(ns), limit=100)
    finally:
        for link in links:
            link.close()
    assert found == {c: 2 if c == rooms[0] else 1 for c in sorted(rooms)}
