"""Flow 2, API side: recs:<user> cache hit; else RabbitMQ request/reply, 503 naming the worker when
nobody answers. A private vhost keeps the real workers out of the way; the "worker" answering here
is this test, speaking the agreed contract over the real broker (the workers engineer tests theirs)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import aio_pika
import httpx
import pytest
from redis.asyncio import Redis

from spotctl_sandbox.events import RECOMMENDATIONS_ANY_EXCHANGE, declare_exchanges
from tests.api.conftest import ApiUser, SpawnedApi, Vhost, in_vhost, register_and_login

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]


async def test_cache_hit_is_served_without_rabbitmq(http: httpx.AsyncClient, user: ApiUser, redis: Redis) -> None:
    cached = {"user_id": user.id, "song_ids": [5, 6], "scores": [0.9, 0.5], "computed_at": 1.0}
    await redis.set(f"recs:{user.id}", json.dumps(cached), ex=3600)
    resp = await http.get("/api/recommendations", headers=user.auth)
    assert resp.json() == {**cached, "source": "cache"}


class FakeWorker:
    """The worker's side of the contract: a queue bound to `recommendations.any`, replies to reply_to."""

    def __init__(self, amqp: str) -> None:
        self.amqp = amqp

    async def __aenter__(self) -> FakeWorker:
        self.conn = await aio_pika.connect_robust(self.amqp)
        self.channel = await self.conn.channel()
        await declare_exchanges(self.channel)
        self.queue = await self.channel.declare_queue("recommendations.requests", auto_delete=True)
        await self.queue.bind(RECOMMENDATIONS_ANY_EXCHANGE)
        return self

    async def answer(self) -> None:
        async def reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                request = json.loads(message.body)
                body = {"user_id": request["user_id"], "song_ids": [3, 1], "scores": [0.8, 0.2],
                        "computed_at": time.time()}
                await self.channel.default_exchange.publish(
                    aio_pika.Message(json.dumps(body).encode(), correlation_id=message.correlation_id),
                    routing_key=message.reply_to or "")

        await self.queue.consume(reply)

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close()


async def test_rpc_names_the_missing_worker_then_returns_and_caches_its_reply(
        api_env: dict[str, str], vhost: Vhost, spawn_api: Callable[..., Awaitable[SpawnedApi]], redis: Redis) -> None:
    amqp = in_vhost(api_env["AMQP_URL"], vhost.name)
    api = await spawn_api(AMQP_URL=amqp, API_RPC_TIMEOUT_S="1")
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        user = await register_and_login(http)

        unbound = await http.get("/api/recommendations", headers=user.auth)
        assert unbound.status_code == 503
        assert unbound.json()["dependency"] == "recommendation-worker"
        assert "no queue is bound" in unbound.json()["detail"]

        async with FakeWorker(amqp) as worker:
            silent = await http.get("/api/recommendations", headers=user.auth)
            assert silent.status_code == 503 and silent.json()["detail"].endswith("no reply within 1 s")
            await worker.queue.purge()
            await worker.answer()
            resp = await http.get("/api/recommendations", headers=user.auth)
    assert resp.status_code == 200, resp.text
    assert resp.json()["source"] == "worker" and resp.json()["song_ids"] == [3, 1]
    assert 3500 < await redis.ttl(f"recs:{user.id}") <= 3600
    await redis.delete(f"recs:{user.id}")


async def test_rpc_works_again_after_rabbitmq_comes_back(
        api_env: dict[str, str], vhost: Vhost, spawn_api: Callable[..., Awaitable[SpawnedApi]], redis: Redis) -> None:
    amqp = in_vhost(api_env["AMQP_URL"], vhost.name)
    api = await spawn_api(AMQP_URL=amqp, API_RPC_TIMEOUT_S="2")
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        user = await register_and_login(http)
        async with FakeWorker(amqp) as worker:
            await worker.answer()
            assert (await http.get("/api/recommendations", headers=user.auth)).status_code == 200
        await redis.delete(f"recs:{user.id}")

        await vhost.delete()
        down = await http.get("/api/recommendations", headers=user.auth)
        assert down.status_code == 503 and down.json()["dependency"] == "rabbitmq"

        await vhost.create()
        async with FakeWorker(amqp) as worker:
            await worker.answer()
            deadline = time.monotonic() + 30
            while True:  # the API's robust connection reopens, re-declaring its reply queue by name
                resp = await http.get("/api/recommendations", headers=user.auth)
                if resp.status_code == 200 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
    assert resp.status_code == 200, resp.text
    assert resp.json()["source"] == "worker"
    await redis.delete(f"recs:{user.id}")
