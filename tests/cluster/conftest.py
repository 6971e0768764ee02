"""A Redis Cluster of six real redis-server processes (three masters, a replica each) on the test
block's redis-node-N ports, and hub processes attached to it. No other part of the stack is needed:
the hub starts without PostgreSQL and Kafka (rooms and notifications need only Redis)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from spotctl_sandbox.common import redisconn
from spotctl_sandbox.common.settings import DEV_JWT_SECRET
from tests.cluster.nodes import Cluster, Node
from tests.conftest import TEST_PORTS
from tests.hub.conftest import HubProcess

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"))


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server and redis-cli are needed (apt-get install redis-server)")
    root = tmp_path_factory.mktemp("redis-cluster")
    # the cluster bus (its port + 10000, Redis's default, may fall in the kernel's ephemeral range and be
    # taken by some client socket): the block's ports after the stack's own, where tests/stack and
    # tests/reliability run their second stack; this fixture lives for tests/cluster only
    bus = max(TEST_PORTS.values()) + 1
    nodes = [Node(TEST_PORTS[f"REDIS_NODE_{i}"], bus + i, root / f"node-{i}") for i in range(1, 7)]
    made = Cluster(nodes).start()
    yield made
    made.stop()


@pytest.fixture
async def redis(cluster: Cluster) -> AsyncIterator[RedisCluster]:
    client = redisconn.connect_async(cluster.url)
    assert isinstance(client, RedisCluster)
    yield client
    await client.aclose()


@pytest.fixture
def hub_on(cluster: Cluster, tmp_path: Path) -> Iterator[Callable[..., HubProcess]]:
    """`hub_on()` -> a hub process (one worker) whose only store is the cluster."""
    started: list[HubProcess] = []

    def make(**extra: str) -> HubProcess:
        env = {"PATH": "/usr/bin:/bin", "SPOTCTL_ENV": "development", "JWT_SECRET": DEV_JWT_SECRET,
               "REDIS_CLUSTER_URL": cluster.url, "REDIS_URL": "redis://127.0.0.1:1/0",  # the cluster wins
               "DATABASE_URL": "postgresql://x:x@127.0.0.1:1/x", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
               "HUB_ACTIVITY_INTERVAL": "0", "BIND_HOST": "127.0.0.1"}
        proc = HubProcess(env, tmp_path, extra=extra).start()
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()
