"""Hub workers on two hosts behind the gateway, and a Locust master with workers on three other hosts:
every process in its own network namespace with its own address (see netns.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from spotctl_sandbox.common import tokens
from spotctl_sandbox.realtime.client import HubClient

from .conftest import REASON, SECRET, Cluster

pytestmark = [pytest.mark.skipif(REASON is not None, reason=REASON or ""),
              pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]
SPOTCTL = Path(sys.executable).with_name("spotctl")


def hub_metric(address: str, name: str) -> float:
    with urllib.request.urlopen(f"http://{address}:9765/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


async def test_a_message_crosses_hosts_between_clients_the_gateway_put_on_different_hubs(cluster: Cluster) -> None:
    store = aioredis.from_url(cluster.redis_url)
    placed: dict[str, HubClient] = {}  # hub host -> a client the gateway sent there
    clients = []
    try:
        for n in range(6):  # nginx balances over both addresses of `hub`; stop once each host has one
            before = {h.name: hub_metric(h.address, "hub_connections") for h in cluster.hubs}
            client = HubClient(cluster.hub_via_gateway, await tokens.issue(store, SECRET, f"user-{n}", f"user {n}"))
            await client.connect()
            clients.append(client)
            after = {h.name: hub_metric(h.address, "hub_connections") for h in cluster.hubs}
            landed = [name for name in after if after[name] == before[name] + 1]
            assert len(landed) == 1, (before, after)
            placed.setdefault(landed[0], client)
            if len(placed) == 2:
                break
        assert set(placed) == {"hub-a", "hub-b"}
        alice, bob = placed["hub-a"], placed["hub-b"]
        await alice.request("join", {"room": "across-hosts"})
        await bob.request("join", {"room": "across-hosts"})
        await bob.send("room_message", {"room": "across-hosts", "data": "from hub-b's host"})
        assert await room_message(alice) == "from hub-b's host"
        await alice.send("room_message", {"room": "across-hosts", "data": "and back"})
        assert await room_message(bob, skip="from hub-b's host") == "and back"  # its own echo comes first
    finally:
        for client in clients:
            await client.close()
        await store.aclose()


async def room_message(client: HubClient, skip: str | None = None) -> object:
    """The data of the next room message pushed to `client` (passing over one whose data is `skip`)."""
    while True:
        frame = await client.recv(timeout=10)
        if frame["type"] == "room_message" and frame["content"]["data"] != skip:
            return frame["content"]["data"]


def test_a_distributed_load_run_spreads_over_worker_hosts_and_both_hubs(cluster: Cluster) -> None:
    master, *workers = cluster.load
    results = cluster.tmp / "load-results"
    env = {**cluster.base_env(), "HUB_URL": cluster.hub_via_gateway,
           "HUB_METRICS_URL": f"http://{cluster.hubs[0].address}:9765"}
    frames_before = {h.name: hub_metric(h.address, "hub_messages_in_total") for h in cluster.hubs}
    run = master.run([str(SPOTCTL), "load", "run", "latency", "--users", "40", "--room-size", "10", "--msg-rate",
                      "20", "--hub", "stack", "--target-p99", "5000", "--spawn-rate", "40", "--duration", "3",
                      "--expect-workers", "2", "--workers-wait", "60", "--results", str(results), "-o", "json"],
                     env, cluster.tmp / "load-run.log")
    joined = [w.run([str(SPOTCTL), "load", "worker", "--master", f"{master.address}:5557"], env,
                    cluster.tmp / f"{w.name}.log") for w in workers]
    try:
        code = run.wait(150)
        worker_codes = [w.wait(30) for w in joined]
    except subprocess.TimeoutExpired:
        pytest.fail(f"the run did not finish; see {cluster.tmp}")
    summary = json.loads((results / "summary.json").read_text())
    assert code == 0 and worker_codes == [0, 0], (cluster.tmp / "load-run.log").read_text()[-2000:]
    assert (summary["workers"], summary["connections_peak"], summary["drops"], summary["handshake_failures"]) == \
        (2, 40, 0, 0)
    assert summary["messages"] > 0 and summary["latency_samples"] > 0
    assert {(g["host"], g["connections_peak"]) for g in summary["generators"]} == \
        {(w.address, 20) for w in workers}  # each worker host carried its half, from its own address
    frames_after = {h.name: hub_metric(h.address, "hub_messages_in_total") for h in cluster.hubs}
    assert all(frames_after[name] > frames_before[name] for name in frames_before), (frames_before, frames_after)
