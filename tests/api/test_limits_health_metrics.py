"""Rate limits (per IP, per user; Redis), /health, /metrics and the OpenAPI docs."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.api.conftest import SpawnedApi, launch_api, register_and_login, stop

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]


def fresh_ip() -> str:
    """A client address no earlier run has used (the gateway passes it as X-Real-IP)."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@pytest.fixture(scope="module")
async def limited(api_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SpawnedApi]:
    """One API process with tiny limits for the rate-limit tests."""
    api = await launch_api(api_env, tmp_path_factory.mktemp("limited"), API_RATE_LIMIT_IP="5/minute",
                           API_RATE_LIMIT_USER="3/minute")
    yield api
    stop(api.proc)


async def test_per_ip_limit_is_429_with_retry_after(limited: SpawnedApi) -> None:
    headers = {"X-Real-IP": fresh_ip()}
    async with httpx.AsyncClient(base_url=limited.url) as http:
        codes = [(await http.get("/api/songs/1", headers=headers)).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        refused = await http.get("/api/songs/1", headers=headers)
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "5 per 1 minute" in refused.json()["detail"]
        assert (await http.get("/api/songs/1", headers={"X-Real-IP": fresh_ip()})).status_code == 200
        assert (await http.get("/health", headers=headers)).status_code == 200  # never limited


async def test_per_user_limit_is_429(limited: SpawnedApi) -> None:
    async with httpx.AsyncClient(base_url=limited.url, headers={"X-Real-IP": fresh_ip()}) as http:
        user = await register_and_login(http)
        headers = {**user.auth}
        codes = []
        for _ in range(4):  # a new address per call: only the per-user limit can bite
            codes.append((await http.get("/api/auth/me", headers={**headers, "X-Real-IP": fresh_ip()})).status_code)
        assert codes == [200, 200, 200, 429]
        limited_resp = await http.get("/api/auth/me", headers={**headers, "X-Real-IP": fresh_ip()})
        assert f"rate limit exceeded for user {user.id}" in limited_resp.json()["detail"]


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
