"""A small data centre on this machine: Redis on one host, a hub on each of two more, the gateway in
front of both (the compose file's own `HUB_UPSTREAM: hub:8765`, with `hub` resolving to both hosts as
Compose's DNS does for a scaled service), and three hosts for load generators."""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .netns import Host, Network, unavailable, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "multihost-test-secret-of-a-decent-length!"
REASON = unavailable()


@dataclass
class Cluster:
    net: Network
    store: Host
    hubs: tuple[Host, Host]
    gateway: Host
    gateway_port: int
    load: tuple[Host, Host, Host]   # the Locust master's host, then two for workers
    tmp: Path

    @property
    def redis_url(self) -> str:
        return f"redis://{self.store.address}:6379/0"

    @property
    def hub_via_gateway(self) -> str:
        return f"ws://{self.gateway.address}:{self.gateway_port}/ws"

    def base_env(self) -> dict[str, str]:
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER")
        return {**{k: v for k, v in os.environ.items() if k in keep}, "NO_COLOR": "1",
                "REDIS_URL": self.redis_url, "JWT_SECRET": SECRET,
                # nothing listens there: the hub retries these in the background, as when they are down
                "DATABASE_URL": f"postgresql://spotify:spotify@{self.store.address}:5432/spotify",
                "KAFKA_BOOTSTRAP_SERVERS": f"{self.store.address}:9092",
                "AMQP_URL": f"amqp://guest:guest@{self.store.address}:5672/%2F",
                "MEDIA_DIR": str(self.tmp / "media"), "REPORTS_DIR": str(self.tmp / "reports"),
                "SPOTCTL_PROJECT_DIR": str(ROOT), "SPOTCTL_STATE_DIR": str(self.tmp / "state")}


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _start_gateway(cluster: Cluster, tmp: Path) -> int:
    """nginx from the gateway driver, with the compose file's gateway environment left as it is."""
    from spotctl.project import Project
    from spotctl.stack import compose
    from spotctl.stack.drivers import Context, gateway

    project = Project(root=ROOT, state_dir=tmp / "gateway-state")
    model = compose.load(project.compose_file, env={})
    service = model.services["gateway"]
    upstreams = {v.split(":")[0] for k, v in service.environment.items() if k.endswith("_UPSTREAM")}
    assert {"hub", "api"} <= upstreams, "the test maps these compose host names to its hosts"
    # nginx resolves every upstream at start: the ones this test does not run point at the store host
    cluster.gateway.resolve({**{name: [cluster.store.address] for name in upstreams},
                             "hub": [h.address for h in cluster.hubs]})
    launch = gateway.launch(Context(service=service, compose=model, project=project, env=dict(service.environment)))
    log = tmp / "gateway.log"
    proc = cluster.gateway.run(launch.argv, launch.env, log)
    port = service.host_port(80)
    wait_for_port(cluster.gateway.address, port, proc, log)
    return port


@pytest.fixture(scope="session")
def cluster(stack_settings: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    from spotctl.stack.drivers import redis as redis_driver

    tmp = tmp_path_factory.mktemp("multihost")
    block = int(os.environ["SPOTCTL_REDIS_PORT"]) // 50  # this checkout's test port block (tests/conftest.py)
    net = Network(tag=str(block), octet=block % 250 + 1).open()
    try:
        cluster = Cluster(net, net.add("store"), (net.add("hub-a"), net.add("hub-b")), net.add("gw"), 0,
                          (net.add("load-m"), net.add("load-1"), net.add("load-2")), tmp)
        redis_log = tmp / "redis.log"
        redis = cluster.store.run([redis_driver.find_binary(), "--bind", cluster.store.address, "--port", "6379",
                                   "--save", "", "--appendonly", "no", "--protected-mode", "no",
                                   "--dir", str(tmp)], cluster.base_env(), redis_log)
        wait_for_port(cluster.store.address, 6379, redis, redis_log)
        hubs = [(h, h.run([sys.executable, "-m", "spotctl_sandbox.hub"],
                          {**cluster.base_env(), "HUB_WORKERS": "1", "PORT": "8765", "METRICS_PORT": "9765",
                           "BIND_HOST": "0.0.0.0",  # the gateway's host reaches it (services bind loopback by default)
                           "PYTHONPATH": str(ROOT)}, tmp / f"{h.name}.log")) for h in cluster.hubs]
        cluster.gateway_port = _start_gateway(cluster, tmp)
        deadline = time.monotonic() + 60
        for host, proc in hubs:
            while not _healthy(f"http://{host.address}:9765/health"):
                assert proc.poll() is None and time.monotonic() < deadline, \
                    (tmp / f"{host.name}.log").read_text()[-1500:]
                time.sleep(0.2)
        yield cluster
    finally:
        net.close()
