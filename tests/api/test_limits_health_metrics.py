"""Rate limits (per IP, per user; Redis), /health, /metrics and the OpenAPI docs."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.api.conftest import SpawnedApi, register_and_login

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]


def fresh_ip() -> str:
    """A client address no earlier run has used (the gateway passes it as X-Real-IP)."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


async def test_per_ip_limit_is_429_with_retry_after(spawn_api: Callable[..., Awaitable[SpawnedApi]]) -> None:
    api = await spawn_api(API_RATE_LIMIT_IP="5/minute")
    headers = {"X-Real-IP": fresh_ip()}
    async with httpx.AsyncClient(base_url=api.url) as http:
        codes = [(await http.get("/api/songs/1", headers=headers)).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        limited = await http.get("/api/songs/1", headers=headers)
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert "5 per 1 minute" in limited.json()["detail"]
        assert (await http.get("/api/songs/1", headers={"X-Real-IP": fresh_ip()})).status_code == 200
        assert (await http.get("/health", headers=headers)).status_code == 200  # never limited


async def test_per_user_limit_is_429(spawn_api: Callable[..., Awaitable[SpawnedApi]]) -> None:
    api = await spawn_api(API_RATE_LIMIT_USER="3/minute")
    async with httpx.AsyncClient(base_url=api.url) as http:
        user = await register_and_login(http)
        codes = [(await http.get("/api/auth/me", headers=user.auth)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert f"rate limit exceeded for user {user.id}" in (
            await http.get("/api/auth/me", headers=user.auth)).json()["detail"]


async def test_health_reports_each_dependency_and_the_playlist_backend(http: httpx.AsyncClient) -> None:
    resp = await http.get("/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] in ("ok", "degraded")
    assert body["playlists_backend"] in ("mongodb", "postgres-jsonb")
    assert {"redis", "postgres", "kafka", "rabbitmq"} <= set(body["dependencies"])
    assert all(d["ok"] for d in body["dependencies"].values()), body


async def test_metrics_count_requests_by_route_template(http: httpx.AsyncClient) -> None:
    await http.get("/api/songs/1")
    text = (await http.get("/metrics")).text
    assert 'spotctl_api_requests_total{method="GET",route="/api/songs/{song_id}",status="200"}' in text
    assert 'spotctl_api_cache_total{cache="song"' in text


async def test_openapi_documents_the_routes(http: httpx.AsyncClient) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert {"/api/songs/{song_id}", "/stream/{song_id}", "/api/playlists", "/api/search"} <= set(paths)
    assert (await http.get("/docs")).status_code == 200
