"""A cluster `spotctl up -p redis-cluster` calls formed survives a master's death at once: every
replica has synced, so the dead master's replica is promoted. Before, "formed" meant every slot
served, and a master killed in the first seconds (its replica still waiting to sync) lost its slots
for good: an unsynced replica refuses to be promoted."""

from __future__ import annotations

import time
from pathlib import Path

from tests.cluster.nodes import Cluster, Node
from tests.conftest import TEST_PORTS


def test_a_master_killed_as_soon_as_the_cluster_is_formed_is_replaced(tmp_path: Path) -> None:
    # a second cluster of its own on free ports of the test block, past the package cluster's bus ports
    # (max + 2 ... max + 7: conftest.py), which are taken whenever a test before this one used it
    first = max(TEST_PORTS.values()) + 8
    fresh = Cluster([Node(first + i, first + 6 + i, tmp_path / f"node-{i}") for i in range(6)])
    try:
        fresh.start()  # inside the try: nodes that started are stopped even if the others could not
        master = fresh.master_of("k")
        fresh.kill(master)
        deadline = time.monotonic() + 15
        while fresh.master_of("k") is master:
            assert time.monotonic() < deadline, "the dead master's slots were never taken over"
            time.sleep(0.1)
        assert fresh.master_of("k").role() == "master"
    finally:
        fresh.stop()
