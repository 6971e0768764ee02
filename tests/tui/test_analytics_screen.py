"""The analytics screen on the real stack: a tenant of its own with simulated history, a detector trained
and run over it through the analytics API; the screen shows what the API answers (the CLI's numbers)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import rows, status, until

pytestmark = pytest.mark.stack

SIZE = (160, 48)


@pytest.fixture(scope="module")
def analytics(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Three simulated days of a fresh tenant; a detector trained on it, promoted and scanned over them.
    The version promoted before is promoted again afterwards (the registry is the stack's)."""
    from spotctl import project
    from spotctl.clients.analytics import answer, api
    from spotctl.endpoints import Endpoints
    from spotctl.stack import runtime
    from spotctl.tui.data import Sources
    from spotctl_sandbox.analytics.ml.history import simulate_into
    from spotctl_sandbox.analytics.ml.simulate import SimConfig

    stack.up("influxdb", "analytics")
    env = stack.env
    tenant = f"tui-{uuid.uuid4().hex[:8]}"
    simulate_into(env["DATABASE_URL"], SimConfig(tenants=(tenant,), days=3, seed=11, users_per_tenant=0, scale=20),
                  env["INFLUXDB_URL"], env["REDIS_URL"])
    endpoints = Endpoints(env=env)
    with api(endpoints=endpoints, role="admin") as client:
        before = [m["version"] for m in answer(client.get("/analytics/ml/models", params={"name": "anomaly_detector"}))
                  if m["status"] == "promoted"]
        trained = answer(client.post("/analytics/ml/train", json={"model": "anomaly_detector", "tenants": [tenant],
                                                                  "days": 3, "promote": True}, timeout=120))
        scan = answer(client.post("/analytics/ml/anomalies/scan", json={"tenant": tenant, "days": 3}, timeout=120))
    rt = getattr(stack, "runtime", None) or runtime.select(None, project.current())
    sources = Sources(runtime=rt, endpoints=endpoints, state_dir=Path(tmp_path_factory.mktemp("tui-analytics")))
    yield {"sources": sources, "tenant": tenant, "trained": trained, "scan": scan}
    if before:
        with api(endpoints=endpoints, role="admin") as client:
            answer(client.post("/analytics/ml/models/anomaly_detector/promote", json={"version": before[0]}))


async def read(sources: Any, path: str, params: dict[str, Any]) -> Any:
    """What the API answers, read as the CLI reads it (in a thread: the client is blocking); a refusal
    is its one-line reason."""
    import asyncio

    from spotctl.clients.analytics import answer, api
    from spotctl.errors import SpotctlError

    def get() -> Any:
        with api(endpoints=sources.endpoints) as client:
            try:
                return answer(client.get(path, params=params))
            except SpotctlError as exc:
                return exc.message

    return await asyncio.to_thread(get)


async def test_a_tenants_series_anomalies_and_models_are_what_the_api_answers(analytics: dict[str, Any]) -> None:
    from spotctl.inspect.analytics_view import when
    from spotctl.tui.app import SpotctlApp

    sources, tenant = analytics["sources"], analytics["tenant"]
    assert analytics["scan"]["flagged"] > 0
    app = SpotctlApp(sources, start="analytics")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.overview is not None, 30)
        await pilot.press("t")
        screen.query_one("#tenant").value = tenant
        await pilot.press("enter")
        await until(pilot, lambda: screen.overview.tenant == tenant, 30)
        assert f"analytics of {tenant}: plays, last 3 h" in status(screen)

        flagged = await read(sources, "/analytics/ml/anomalies", {"tenant": tenant, "limit": 50})
        assert [r[0] for r in rows(screen.grid)] == [when(a["minute"]) for a in flagged]
        series = await read(sources, f"/analytics/metrics/{tenant}", {"metric": "plays", "start": "-3h", "step": "1m",
                                                                "window": "1m", "aggregation": "sum"})
        api_points = {t: v for t, v in series["series"][0]["points"]}
        shown = dict(zip(screen.overview.chart.xs, screen.overview.chart.ys, strict=True))
        common = set(api_points) & set(shown)
        assert len(common) >= 170 and all(shown[t] == api_points[t] for t in common)  # 1 min buckets: as stored

        models = {r[0]: r for r in rows(screen.query_one("#models"))}
        assert models["anomaly_detector"][1] == f"v{analytics['trained']['version']} promoted"

        forecast = await read(sources, "/analytics/ml/forecast", {"tenant": tenant, "metric": "plays", "horizon": "3h"})
        if isinstance(forecast, str):  # not trained, or trained without this tenant: the API's reason, said
            assert f"no forecast band: {forecast}" in screen.overview.notes
            assert str(screen.query_one("#chart-notes").render()).startswith("no forecast band")
        else:
            assert len(screen.overview.chart.band_xs) == len(forecast["points"])

        await pilot.press("w", "w")  # a week, hourly: every flagged minute of the three days is on the chart
        await until(pilot, lambda: screen.overview.span.name == "7 days", 30)
        hours = {float(ts - ts % 3600) for ts in (_epoch(a["minute"]) for a in flagged)}
        assert set(screen.overview.chart.marks_x) == hours

        await pilot.press("m")
        await until(pilot, lambda: screen.overview.metric == "active_users", 30)
        assert f"analytics of {tenant}: active_users" in status(screen)


def _epoch(iso: str) -> int:
    import datetime as dt

    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


async def test_the_service_down_is_one_line_naming_the_command(analytics: dict[str, Any]) -> None:
    import socket
    from dataclasses import replace

    from spotctl.endpoints import Endpoints
    from spotctl.tui.app import SpotctlApp

    sources = analytics["sources"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = replace(sources, endpoints=Endpoints(env={**sources.endpoints.env,
                                                     "ANALYTICS_URL": f"http://127.0.0.1:{port}"}))
    app = SpotctlApp(down, start="analytics")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "not reachable" in status(app.screen), 30)
        assert "spotctl up analytics" in status(app.screen)
