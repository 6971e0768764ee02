"""/analytics/ml over HTTP on the real PostgreSQL: roles on every route, the lifecycle, bad input.

The router joins an app with that app's role dependencies; here a small stand-in checks the stack's
JWT and its `roles` claim the way the analytics API does (viewer < analyst < admin).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import numpy as np
import psycopg
import pytest
from fastapi import FastAPI, HTTPException, Request

from spotctl_sandbox.analytics.ml import history
from spotctl_sandbox.analytics.ml.router import create_router
from spotctl_sandbox.analytics.ml.service import MLService
from spotctl_sandbox.analytics.ml.simulate import SimConfig, Simulation, simulate
from spotctl_sandbox.common import tokens

pytestmark = pytest.mark.stack
SECRET = "test-secret-for-the-ml-router-routes-0123456789"
RANKS = {"viewer": 1, "analyst": 2, "admin": 3}


def week_start() -> dt.datetime:
    """Last Monday 00:00 UTC. Simulated history ends there, so its anomalies fall at the same times of
    the week whenever the tests run (an outage at 4 a.m. is harder to see than one at 8 p.m.)."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=today.weekday())


def role_dependency(needed: str) -> Any:
    async def dependency(request: Request) -> str:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            raise HTTPException(401, "missing bearer token")
        try:
            tokens.decode(SECRET, header[7:])
        except tokens.TokenError as exc:
            raise HTTPException(401, exc.reason) from exc
        roles = jwt.decode(header[7:], options={"verify_signature": False}).get("roles", [])
        rank = max((RANKS.get(r, 0) for r in roles), default=0)
        if rank < RANKS[needed]:
            raise HTTPException(403, f"this route needs role {needed} or higher")
        return "ok"

    return dependency


def token(*roles: str) -> dict[str, str]:
    raw, _ = tokens.encode(SECRET, "7", "tester")
    claims = jwt.decode(raw, SECRET, algorithms=["HS256"])
    return {"Authorization": "Bearer " + jwt.encode({**claims, "roles": list(roles)}, SECRET, algorithm="HS256")}


@pytest.fixture(scope="module")
def simulated(stack: Any) -> Simulation:
    stack.up("postgres")
    config = SimConfig(tenants=("api-" + uuid.uuid4().hex[:6],), days=13, seed=5, users_per_tenant=120,
                       end=week_start())
    history.simulate_into(stack.env["DATABASE_URL"], config, None)
    return simulate(config)


@pytest.fixture(scope="module")
def tenant(simulated: Simulation) -> str:
    return simulated.config.tenants[0]


@pytest.fixture
async def client(stack: Any, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    # the artifacts folder of the stack's analytics service: one registry, one folder
    app.state.ml = MLService(stack.env["DATABASE_URL"], Path(stack.env["MEDIA_DIR"]).parent / "models")
    app.include_router(create_router(role_dependency("viewer"), role_dependency("analyst"),
                                     role_dependency("admin")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ml") as c:
        yield c


ROUTES = [  # method, path, body, the least role that may call it
    ("POST", "/analytics/ml/train", {"model": "behavior_analyzer"}, "analyst"),
    ("GET", "/analytics/ml/models", None, "viewer"),
    ("POST", "/analytics/ml/models/behavior_analyzer/promote", {"version": 1}, "admin"),
    ("POST", "/analytics/ml/predict", {"model": "anomaly_detector", "tenant": "x", "minutes": []}, "analyst"),
    ("GET", "/analytics/ml/anomalies", None, "viewer"),
    ("POST", "/analytics/ml/anomalies/scan", {"days": 1}, "analyst"),
    ("GET", "/analytics/ml/forecast?tenant=x", None, "viewer"),
    ("GET", "/analytics/ml/segments", None, "viewer"),
]


@pytest.mark.parametrize(("method", "path", "body", "least"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
async def test_every_route_checks_the_token_and_the_role(client: httpx.AsyncClient, method: str, path: str,
                                                         body: Any, least: str) -> None:
    assert (await client.request(method, path, json=body)).status_code == 401
    claims = {"sub": "1", "exp": 9999999999, "jti": "x", "roles": ["admin"]}
    forged = {"Authorization": "Bearer " + jwt.encode(claims, "another-secret-long-enough-for-hs256", "HS256")}
    assert (await client.request(method, path, json=body, headers=forged)).status_code == 401
    below = [r for r, rank in RANKS.items() if rank < RANKS[least]]
    for role in below:
        resp = await client.request(method, path, json=body, headers=token(role))
        assert resp.status_code == 403 and least in resp.json()["detail"]
    allowed = await client.request(method, path, json=body, headers=token(least))
    assert allowed.status_code not in (401, 403), allowed.text


async def test_untrained_model_is_409_with_how_to_train_then_the_lifecycle(
        client: httpx.AsyncClient, stack: Any, tenant: str, simulated: Simulation) -> None:
    with psycopg.connect(stack.env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("DELETE FROM analytics_models WHERE name = 'anomaly_detector'")
    usual = simulated.minutes.rows()[int(np.flatnonzero(~simulated.truth())[-1])]  # the last ordinary minute
    minute = {"minute": usual.minute.isoformat(), "plays": usual.plays, "active_users": usual.active_users,
              "errors": usual.errors, "delivery_p99_ms": usual.delivery_p99_ms}
    before = await client.post("/analytics/ml/predict", headers=token("analyst"),
                               json={"model": "anomaly_detector", "tenant": tenant, "minutes": [minute]})
    assert before.status_code == 409 and "spotctl analytics train anomaly_detector" in before.json()["detail"]

    trained = await client.post("/analytics/ml/train", headers=token("analyst"),
                                json={"model": "anomaly_detector", "tenants": [tenant], "days": 7})
    assert trained.status_code == 201, trained.text
    # measured (seed 5, 7 days ending on a Monday): precision 1.0, recall 0.74
    assert trained.json()["status"] == "promoted" and trained.json()["metrics"]["precision"] > 0.7
    again = await client.post("/analytics/ml/train", headers=token("analyst"),
                              json={"model": "anomaly_detector", "tenants": [tenant], "days": 3})
    version = again.json()["version"]
    assert again.json()["status"] == "candidate"
    promoted = await client.post("/analytics/ml/models/anomaly_detector/promote", headers=token("admin"),
                                 json={"version": version})
    assert promoted.status_code == 200 and promoted.json()["status"] == "promoted"
    listed = (await client.get("/analytics/ml/models?name=anomaly_detector", headers=token("viewer"))).json()
    assert [m["status"] for m in listed][:2] == ["promoted", "retired"]

    scored = await client.post("/analytics/ml/predict", headers=token("analyst"),
                               json={"model": "anomaly_detector", "tenant": tenant, "minutes": [
                                   minute, {**minute, "plays": 0, "active_users": 0, "errors": 80,
                                            "delivery_p99_ms": 2000}]})
    assert [p["is_anomaly"] for p in scored.json()["prediction"]] == [False, True]
    scan = (await client.post("/analytics/ml/anomalies/scan", headers=token("analyst"),
                              json={"tenant": tenant, "days": 13})).json()
    assert scan["flagged"] > 0 and scan["against_ground_truth"]["incident_recall"] > 0.5, scan
    found = (await client.get(f"/analytics/ml/anomalies?tenant={tenant}&limit=5", headers=token("viewer"))).json()
    assert len(found) == 5 and found[0]["model_version"] == version


async def test_forecast_and_segments_over_http(client: httpx.AsyncClient, tenant: str) -> None:
    trained = await client.post("/analytics/ml/train", headers=token("analyst"), json={
        "model": "predictive_analytics", "tenants": [tenant], "days": 13, "promote": True,
        "params": {"n_estimators": 20}})
    assert trained.status_code == 201, trained.text
    fc = await client.get(f"/analytics/ml/forecast?tenant={tenant}&metric=active_users&horizon=1d",
                          headers=token("viewer"))
    assert fc.status_code == 200 and len(fc.json()["points"]) == 24
    assert all(p["lower"] <= p["value"] <= p["upper"] for p in fc.json()["points"])

    seg = await client.post("/analytics/ml/train", headers=token("analyst"),
                            json={"model": "behavior_analyzer", "tenants": [tenant], "promote": True})
    assert seg.status_code == 201 and seg.json()["metrics"]["silhouette"] > 0.4
    summary = (await client.get(f"/analytics/ml/segments?tenant={tenant}", headers=token("viewer"))).json()
    assert sum(s["users"] for s in summary["stored"]) == 120


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), [
    ("POST", "/analytics/ml/train", {"model": "forest"}, 422, "model"),
    ("POST", "/analytics/ml/train", {"model": "anomaly_detector", "days": -3}, 422, "days"),
    ("POST", "/analytics/ml/train", {"model": "anomaly_detector", "tenants": ["ghost"]}, 400, "no minutes for ghost"),
    ("POST", "/analytics/ml/models/forest/promote", {"version": 1}, 404, "unknown model 'forest'"),
    ("POST", "/analytics/ml/models/anomaly_detector/promote", {"version": 9999}, 404, "has no version 9999"),
    ("POST", "/analytics/ml/predict", {"model": "anomaly_detector", "tenant": "x"}, 400, "needs 'minutes'"),
    ("POST", "/analytics/ml/predict", {"model": "behavior_analyzer"}, 400, "needs 'users'"),
    ("GET", "/analytics/ml/forecast?tenant=x&horizon=soon", None, 400, "horizon 'soon'"),
    ("GET", "/analytics/ml/forecast?tenant=x&horizon=30d", None, 400, "horizon must be"),
    ("GET", "/analytics/ml/anomalies?limit=0", None, 422, "limit"),
    ("GET", "/analytics/ml/models?name=forest", None, 404, "unknown model"),
])
async def test_bad_input_gets_a_clear_error(client: httpx.AsyncClient, method: str, path: str, body: Any,
                                            status: int, says: str) -> None:
    resp = await client.request(method, path, json=body, headers=token("admin"))
    assert resp.status_code == status, resp.text
    assert says in resp.text
