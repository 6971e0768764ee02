"""The TUI's Metrics and Alerts screens, driven with Textual's Pilot against the real Prometheus and
Alertmanager of the observability fixture."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.observability.conftest import Observability

pytestmark = pytest.mark.stack
SIZE = (180, 50)


@pytest.fixture
def sources(observability: Observability, stack: Any, tmp_path: Any) -> Any:
    from spotctl.endpoints import Endpoints
    from spotctl.tui.data import Sources

    return Sources(runtime=observability.runtime, endpoints=Endpoints(env=observability.env), state_dir=tmp_path)


@pytest.fixture
def firing(observability: Observability) -> Iterator[dict[str, str]]:
    """An alert sent straight to Alertmanager (as `spotctl alerts test` does); resolved and unsilenced after."""
    from spotctl.clients.prometheus import AlertmanagerClient

    labels = {"alertname": "TuiTestAlert", "severity": "info", "test_id": uuid.uuid4().hex[:8]}
    now = dt.datetime.now(dt.UTC)
    with AlertmanagerClient(observability.env["ALERTMANAGER_URL"]) as am:
        am.post([{"labels": labels, "annotations": {"summary": "shown by the TUI test"},
                  "startsAt": now.isoformat(), "endsAt": (now + dt.timedelta(minutes=10)).isoformat()}])
        yield labels
        for silence in am.silences():
            if any(m.name == "test_id" and m.value == labels["test_id"] for m in silence.matchers) \
                    and silence.state == "active":
                am.expire(silence.id)
        am.post([{"labels": labels, "startsAt": now.isoformat(), "endsAt": dt.datetime.now(dt.UTC).isoformat()}])


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    waited = 0.0
    while not condition():
        assert waited < timeout, "condition not met in time"
        await pilot.pause(0.2)
        waited += 0.2


def rows(screen: Any) -> list[list[str]]:
    from textual.widgets import DataTable

    table = screen.query_one(DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_metrics_screen_draws_every_key_series(sources: Any) -> None:
    from spotctl.inspect.metrics_view import KEY_SERIES
    from spotctl.tui.app import SpotctlApp

    app = SpotctlApp(sources, start="metrics")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(rows(app.screen)) == len(KEY_SERIES))
        table = {r[0]: r[1:] for r in rows(app.screen)}
        assert list(table) == [what for what, _, _ in KEY_SERIES]
        now, line = table["host memory used"]
        assert now.endswith("%") and line and set(line) <= set("▁▂▃▄▅▆▇█ ")


async def test_alerts_screen_shows_a_firing_alert_and_silences_it_after_asking(
        sources: Any, firing: dict[str, str]) -> None:
    from spotctl.tui.app import SpotctlApp
    from spotctl.tui.components.confirm import ConfirmScreen

    app = SpotctlApp(sources, start="alerts")
    async with app.run_test(size=SIZE) as pilot:
        def mine() -> list[str] | None:
            return next((r for r in rows(app.screen) if r[1] == "TuiTestAlert"), None)

        await until(pilot, lambda: mine() is not None)
        row = mine()
        assert row is not None and row[2] == "firing" and f"test_id={firing['test_id']}" in row[5]
        from textual.widgets import DataTable

        table = app.screen.query_one(DataTable)
        table.move_cursor(row=[r[0] for r in rows(app.screen)].index(row[0]))
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: (mine() or [""] * 3)[2] == "silenced")
