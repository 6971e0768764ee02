"""The dashboard API of the stack's analytics service: roles on every route, bad input on every
route, 404s that list what exists, 503 naming InfluxDB when its buffer is full, the live WebSocket."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import websockets

from .conftest import eventually

pytestmark = pytest.mark.stack
Mint = Callable[..., Awaitable[str]]

# (method, path, body, lowest role allowed)
ROUTES: list[tuple[str, str, Any, str]] = [
    ("GET", "/analytics/metrics", None, "viewer"),
    ("GET", "/analytics/metrics/default?metric=plays", None, "viewer"),
    ("GET", "/analytics/metrics/aggregated?metric=plays", None, "viewer"),
    ("POST", "/analytics/metrics", {"name": "rbac_probe", "value": 1, "tenant_id": "rbac"}, "analyst"),
    ("GET", "/analytics/dashboards", None, "viewer"),
    ("POST", "/analytics/dashboards", {"name": "rbac", "widgets": ["system_health"]}, "analyst"),
    ("GET", "/analytics/alerts", None, "viewer"),
    ("POST", "/analytics/alerts", {"name": "rbac", "condition": "errors > 1"}, "admin"),
    ("GET", "/analytics/alerts/events", None, "viewer"),
    ("GET", "/analytics/events?q=x", None, "viewer"),
]
RANK = {"viewer": 1, "analyst": 2, "admin": 3}


@pytest.mark.parametrize(("method", "path", "body", "needs"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
async def test_every_route_enforces_its_role(api: httpx.AsyncClient, mint: Mint, method: str, path: str,
                                            body: Any, needs: str) -> None:
    assert (await api.request(method, path, json=body)).status_code == 401
    bad = await api.request(method, path, json=body, headers={"Authorization": "Bearer not.a.jwt"})
    assert bad.status_code == 401 and "malformed" in bad.json()["detail"]
    no_role = await api.request(method, path, json=body, headers=_auth(await mint()))
    assert no_role.status_code == 403 and "no analytics role" in no_role.json()["detail"]
    for role, rank in RANK.items():
        if body is not None and isinstance(body, dict) and "name" in body:
            body = {**body, "name": f"{body['name']}_{uuid.uuid4().hex[:6]}"}
        resp = await api.request(method, path, json=body, headers=_auth(await mint(role)))
        if rank < RANK[needs]:
            assert resp.status_code == 403 and f"needs role {needs}" in resp.json()["detail"], resp.text
        else:
            assert resp.status_code in (200, 201, 404), f"{role}: {resp.status_code} {resp.text}"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_revoked_session_is_refused(api: httpx.AsyncClient, mint: Mint, redis: Any) -> None:
    import jwt

    token = await mint("admin")
    await redis.delete(f"session:{jwt.decode(token, options={'verify_signature': False})['jti']}")
    resp = await api.get("/analytics/metrics", headers=_auth(token))
    assert resp.status_code == 401 and "revoked" in resp.json()["detail"]


BAD_INPUT: list[tuple[str, str, Any, str]] = [
    ("POST", "/analytics/metrics", "{not json", "invalid JSON"),
    ("POST", "/analytics/metrics", {"name": "Bad Name!", "value": 1}, "metric name"),
    ("POST", "/analytics/metrics", {"name": "plays", "value": 1}, "computed by the stream processor"),
    ("POST", "/analytics/metrics", {"name": "ok", "value": "NaN"}, "value"),
    ("POST", "/analytics/metrics", {"name": "ok", "value": 1, "tenant_id": "a b"}, "tenant"),
    ("POST", "/analytics/metrics", {"name": "ok", "value": 1, "tags": {"tenant": "x"}}, "tag 'tenant'"),
    ("POST", "/analytics/metrics", {"name": "ok", "value": 1, "kind": "sales"}, "kind must be"),
    ("POST", "/analytics/metrics", {"metrics": []}, "no metrics"),
    ("GET", "/analytics/metrics/default?metric=plays&step=0m", None, "step"),
    ("GET", "/analytics/metrics/default?metric=plays&step=1s&start=-30d", None, "at most"),
    ("GET", "/analytics/metrics/default?metric=plays&start=tomorrow", None, "start"),
    ("GET", "/analytics/metrics/default?metric=plays&start=now&end=-1h", None, "start must be before end"),
    ("GET", "/analytics/metrics/default?metric=plays&aggregation=avg", None, "aggregation"),
    ("GET", "/analytics/metrics/default?metric=plays&window=2m", None, "window"),
    ("GET", "/analytics/metrics/default?metric=plays&group_by=a;b", None, "group_by"),
    ("GET", "/analytics/metrics/aggregated", None, "metric"),
    ("POST", "/analytics/dashboards", {"name": "x", "widgets": []}, "widgets"),
    ("POST", "/analytics/dashboards", {"name": "x", "widgets": [{"type": "chart"}]}, "needs `metric`"),
    ("POST", "/analytics/dashboards", {"name": "x", "widgets": ["pie"]}, "not a preset"),
    ("POST", "/analytics/dashboards", {"name": "x", "widgets": ["revenue"], "tenant_id": "a/b"}, "tenant_id"),
    ("GET", "/analytics/dashboards/abc", None, "dashboard_id"),
    ("PUT", "/analytics/dashboards/1", {"name": ""}, "name"),
    ("POST", "/analytics/alerts", {"name": "x", "condition": "error_rate >> 1"}, "is not `<series>"),
    ("POST", "/analytics/alerts", {"name": "x", "condition": "revenue > 1"}, "unknown series"),
    ("POST", "/analytics/alerts", {"name": "x"}, "needs `condition`"),
    ("POST", "/analytics/alerts", {"name": "x", "condition": "errors > 1", "channels": ["slack"]}, "hub, email"),
    ("POST", "/analytics/alerts", {"name": "x", "condition": "errors > 1", "severity": "meh"}, "severity"),
    ("POST", "/analytics/alerts", {"name": "x", "kind": "ml", "sensitivity": "extreme"}, "sensitivity"),
    ("POST", "/analytics/alerts", {"name": "x", "kind": "ml", "threshold": 3}, "threshold"),
    ("PUT", "/analytics/alerts/abc", {"severity": "info"}, "alert_id"),
    ("GET", "/analytics/alerts/events?limit=0", None, "limit"),
    ("GET", "/analytics/events?range=forever", None, "range"),
]


@pytest.mark.parametrize(("method", "path", "body", "says"), BAD_INPUT,
                         ids=[f"{m} {p} {s}" for m, p, _, s in BAD_INPUT])
async def test_bad_input_is_a_4xx_that_says_what(api: httpx.AsyncClient, mint: Mint, method: str, path: str,
                                                 body: Any, says: str) -> None:
    headers = {**_auth(await mint("admin")), "Content-Type": "application/json"}
    content = body if isinstance(body, str) else None if body is None else json.dumps(body)
    resp = await api.request(method, path, content=content, headers=headers)
    assert resp.status_code in (400, 404, 422), resp.text
    assert says in resp.json()["detail"], resp.text


async def test_unknown_metric_or_tenant_is_404_listing_what_exists(api: httpx.AsyncClient, mint: Mint) -> None:
    headers = _auth(await mint("analyst"))
    stored = await api.post("/analytics/metrics", headers=headers,
                            json={"name": "api_requests", "value": 250.0, "tenant_id": "api_tenant",
                                  "tags": {"endpoint": "/api/v1/metrics"}})
    assert stored.status_code == 201, stored.text
    metric = await api.get("/analytics/metrics/api_tenant?metric=nope", headers=headers)
    assert metric.status_code == 404 and "api_requests" in metric.json()["known"]
    tenant = await api.get("/analytics/metrics/nobody?metric=api_requests", headers=headers)
    assert tenant.status_code == 404 and "api_tenant" in tenant.json()["known"]
    found = await api.get("/analytics/metrics/api_tenant?metric=api_requests&group_by=endpoint&start=-5m",
                          headers=headers)
    assert found.status_code == 200
    assert found.json()["series"][0]["tags"] == {"endpoint": "/api/v1/metrics"}
    assert [p[1] for p in found.json()["series"][0]["points"]] == [250.0]


async def test_dashboards_and_alerts_crud(api: httpx.AsyncClient, mint: Mint) -> None:
    admin = _auth(await mint("admin"))
    name = f"Executive {uuid.uuid4().hex[:6]}"
    created = await api.post("/analytics/dashboards", headers=admin, json={
        "name": name, "layout": "grid", "widgets": [
            {"type": "chart", "data": "daily_revenue"}, {"type": "kpi", "metric": "active_users"}, "system_health"]})
    assert created.status_code == 201, created.text
    board = created.json()
    assert [w["type"] for w in board["widgets"]] == ["chart", "kpi", "system_health"]
    assert board["widgets"][0]["metric"] == "daily_revenue"
    again = await api.post("/analytics/dashboards", headers=admin, json={"name": name, "widgets": ["revenue"]})
    assert again.status_code == 409
    put = await api.put(f"/analytics/dashboards/{board['id']}", headers=admin,
                        json={"name": name, "widgets": ["user_activity"]})
    assert put.status_code == 200 and put.json()["widgets"][0]["type"] == "user_activity"
    assert (await api.delete(f"/analytics/dashboards/{board['id']}", headers=admin)).status_code == 204
    gone = await api.get(f"/analytics/dashboards/{board['id']}", headers=admin)
    assert gone.status_code == 404 and "known ids" in gone.json()["detail"]

    alert = await api.post("/analytics/alerts", headers=admin, json={
        "name": f"High Error Rate {name}", "condition": "error_rate > 0.05", "for_s": 120, "severity": "critical",
        "channels": ["hub", "email"], "actions": ["scale_up", "notify_oncall"]})
    assert alert.status_code == 201, alert.text
    rule = alert.json()
    assert (rule["condition"], rule["for_s"]) == ("error_rate > 0.05", 120)
    assert rule["actions"] == ["scale_up", "notify_oncall"]
    changed = await api.put(f"/analytics/alerts/{rule['id']}", headers=admin, json={"enabled": False})
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert (await api.get(f"/analytics/alerts/{rule['id']}", headers=admin)).json()["history"] == []
    assert (await api.delete(f"/analytics/alerts/{rule['id']}", headers=admin)).status_code == 204
    assert (await api.delete(f"/analytics/alerts/{rule['id']}", headers=admin)).status_code == 404


async def test_live_websocket_sends_metric_updates(env: dict[str, str], api: httpx.AsyncClient, mint: Mint) -> None:
    ws_url = env["ANALYTICS_URL"].replace("http", "ws", 1) + "/analytics/ws/metrics"
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(ws_url):
            pass
    tenant = f"live-{uuid.uuid4().hex[:6]}"
    async with websockets.connect(f"{ws_url}?token={await mint('viewer')}&tenant={tenant}") as ws:
        await ws.send("ping")
        assert await asyncio.wait_for(ws.recv(), 5) == "pong"
        posted = await api.post("/analytics/metrics", headers=_auth(await mint("analyst")),
                                json={"name": "user_sessions", "value": 1500.0, "tenant_id": tenant})
        assert posted.status_code == 201
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert frame["type"] == "metric_update"
    assert frame["data"]["tenant"] == tenant and frame["data"]["metrics"] == {"user_sessions": 1500.0}


async def test_a_down_influxdb_buffers_then_answers_503_and_loses_nothing(stack: Any, api: httpx.AsyncClient,
                                                                         mint: Mint) -> None:
    """The stack's analytics runs with ANALYTICS_SPILL_MAX=300 (tests/analytics/conftest.py)."""
    headers = _auth(await mint("analyst"))
    tenant = f"spill-{uuid.uuid4().hex[:6]}"
    now = time.time()

    def batch(start: int) -> dict[str, Any]:
        return {"metrics": [{"name": "spill_probe", "value": i, "tenant_id": tenant, "timestamp": now - 600 + i}
                            for i in range(start, start + 100)]}

    stack.runtime.down(["influxdb"], volumes=False)
    try:
        assert (await api.post("/analytics/metrics", headers=headers, json=batch(0))).status_code == 201
        refused = None
        for start in range(100, 1000, 100):
            resp = await api.post("/analytics/metrics", headers=headers, json=batch(start))
            if resp.status_code == 503:
                refused = resp
                break
            assert resp.status_code == 201, resp.text
        assert refused is not None and refused.json()["dependency"] == "influxdb"
        assert "buffer is full" in refused.json()["detail"]
        acknowledged = start
    finally:
        stack.up("influxdb")

    async def landed() -> bool:
        resp = await api.get(f"/analytics/metrics/aggregated?metric=spill_probe&aggregation=count&tenant_id={tenant}"
                             "&start=-1h", headers=headers)
        series = resp.json().get("series", []) if resp.status_code == 200 else []
        return bool(series) and series[0]["points"][0][1] == acknowledged

    await eventually(landed, timeout=30, what=f"the {acknowledged} acknowledged points to reach InfluxDB")


async def test_a_role_granted_through_the_api_opens_the_analytics_routes(stack: Any, env: dict[str, str],
                                                                         api: httpx.AsyncClient) -> None:
    """The real path: the admin grants `analyst` (user_roles), the user's next login carries it."""
    stack.up("api")
    email, password = f"analyst-{uuid.uuid4().hex[:8]}@test.local", "analytics-pass-1"
    async with httpx.AsyncClient(base_url=stack.env["API_URL"], timeout=15) as core:
        user = (await core.post("/api/auth/register", json={"email": email, "name": "A", "password": password}))
        assert user.status_code == 201, user.text
        before = (await core.post("/api/auth/login", json={"email": email, "password": password})).json()
        refused = await api.get("/analytics/metrics", headers=_auth(before["access_token"]))
        assert refused.status_code == 403 and "no analytics role" in refused.json()["detail"]
        admin = (await core.post("/api/auth/login", json={"email": "admin@spotctl.dev",
                                                           "password": "spotctl-admin-dev"})).json()
        granted = await core.put(f"/api/admin/users/{user.json()['id']}/roles/analyst",
                                 headers=_auth(admin["access_token"]))
        assert granted.status_code in (200, 201), granted.text
        after = (await core.post("/api/auth/login", json={"email": email, "password": password})).json()
    posted = await api.post("/analytics/metrics", headers=_auth(after["access_token"]),
                            json={"name": "granted_probe", "value": 1, "tenant_id": "granted"})
    assert posted.status_code == 201, posted.text


async def test_a_metric_the_processor_writes_but_has_not_yet_is_said_to_be_not_counted_yet(
        env: dict[str, str], redis: Any, mint: Mint) -> None:
    """The metrics routes over an InfluxDB database of this test's own, empty as on a fresh stack:
    `plays` is the processor's and has no point yet (said so, with how to make some), `nonesuch`
    is nobody's (unknown, with what exists)."""
    from types import SimpleNamespace

    from fastapi import FastAPI

    from spotctl_sandbox.analytics.api import errors, metrics
    from spotctl_sandbox.analytics.api.auth import RateLimiter
    from spotctl_sandbox.analytics.storage.timeseries import TimeSeriesStorage

    config = SimpleNamespace(settings=SimpleNamespace(jwt_secret=env["JWT_SECRET"]))
    influx = TimeSeriesStorage(env["INFLUXDB_URL"], f"m{uuid.uuid4().hex[:8]}", redis)
    await influx.connect()  # as the service does when it starts: the database made, empty
    app = FastAPI()
    errors.install(app)
    app.include_router(metrics.router)
    app.state.engine = SimpleNamespace(redis=redis, config=config, storage=SimpleNamespace(time_series=influx))
    app.state.limiter = RateLimiter(env["REDIS_URL"], "600/minute")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as client:
            viewer = _auth(await mint("viewer"))
            plays = await client.get("/analytics/metrics/default", params={"metric": "plays"}, headers=viewer)
            assert plays.status_code == 404
            assert plays.json()["detail"].startswith("no plays counted yet") and "scenario run play" in plays.text
            odd = await client.get("/analytics/metrics/default", params={"metric": "nonesuch"}, headers=viewer)
            assert odd.status_code == 404 and odd.json()["detail"].startswith("unknown metric 'nonesuch'")
    finally:
        await influx.query(f'DROP DATABASE "{influx.database}"')
        await influx.close()
