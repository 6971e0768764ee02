"""Each hub worker reports its garbage-collection pauses and its event loop's lag on /metrics: where a
delivery waits while the CPU is free (issue 18, the 100k tail)."""

from __future__ import annotations

import pytest

from .conftest import Hub, metric_totals, until

pytestmark = pytest.mark.stack


async def test_gc_pauses_and_loop_lag_are_on_metrics_for_every_generation(hub: Hub) -> None:
    url = hub.metrics_url
    generations = metric_totals(url, "hub_gc_pause_seconds_count", by="generation")
    assert set(generations) == {"0", "1", "2"}  # announced at start, collected or not
    assert all(n >= 0 for n in generations.values())
    before = metric_totals(url, "hub_loop_lag_seconds_count")[""]
    await until(lambda: metric_totals(url, "hub_loop_lag_seconds_count")[""] >= before + 10, timeout=5)
    lag = metric_totals(url, "hub_loop_lag_seconds_sum")[""]
    count = metric_totals(url, "hub_loop_lag_seconds_count")[""]
    assert 0 <= lag / count < 0.5  # an idle worker's timer is on time, give or take a shared box
    assert metric_totals(url, "hub_gc_pause_seconds_sum")[""] >= 0
