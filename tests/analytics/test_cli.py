"""`spotctl analytics metrics` against the stack's analytics service, as a user runs it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.stack


async def test_metrics_lists_queries_charts_and_refuses_unknown_names(api: Any, mint: Any, cli: Any) -> None:
    tenant = f"cli-{uuid.uuid4().hex[:6]}"
    posted = await api.post("/analytics/metrics", headers={"Authorization": f"Bearer {await mint('analyst')}"},
                            json={"name": "cli_probe", "value": 7.0, "tenant_id": tenant})
    assert posted.status_code == 201
    listed = cli("analytics", "metrics", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert {"metrics", "tenants"} <= set(json.loads(listed.stdout))

    unknown = cli("analytics", "metrics", "no_such_metric")
    assert unknown.returncode == 2 and "unknown metric 'no_such_metric'; known:" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    for odd in ("../default", "a/b"):  # a path, not a tenant: said so, never another endpoint's 404
        refused = cli("analytics", "metrics", "plays", "--tenant", odd)
        assert refused.returncode == 2 and f"tenant '{odd}': 1-64 letters" in refused.stderr, refused.stderr

    series = cli("analytics", "metrics", "cli_probe", "--tenant", tenant, "--since", "-5m", "-o", "json")
    assert series.returncode == 0, series.stderr
    assert [p[1] for p in json.loads(series.stdout)["series"][0]["points"]] == [7.0]
    table = cli("analytics", "metrics", "cli_probe", "--tenant", tenant, "--since", "-5m")
    assert "cli_probe of " + tenant in table.stdout and "│ 7 " in table.stdout
    chart = cli("analytics", "metrics", "cli_probe", "--tenant", tenant, "--since", "-5m", "--chart")
    assert chart.returncode == 0 and "cli_probe (mean)" in chart.stdout and "\x1b[" not in chart.stdout


def test_a_stopped_analytics_service_is_one_line_naming_it(cli: Any) -> None:
    down = cli("analytics", "metrics", "--url", "http://127.0.0.1:9")
    assert down.returncode == 1 and "analytics is not reachable" in down.stderr and "Traceback" not in down.stderr
