"""The guided `analytics` scenario passes on the test stack (plays -> InfluxDB -> alert -> hub)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

pytestmark = pytest.mark.stack


def test_the_analytics_scenario_passes_every_step(stack: Any, env: dict[str, str], cli: Any) -> None:
    stack.up("api")
    run_env = {**os.environ, **stack.env}
    seeded = cli("seed", "--songs", "50", env=run_env)
    assert seeded.returncode == 0, seeded.stderr
    done = cli("scenario", "run", "analytics", "--yes", "--output", "json", env=run_env, timeout=240)
    assert done.stdout, done.stderr
    report = json.loads(done.stdout)
    failed = [s for s in report["steps"] if s["outcome"] != "pass"]
    assert done.returncode == 0 and not failed, json.dumps(failed, indent=1)
    print("analytics scenario:", {s["title"]: round(s["duration_s"], 1) for s in report["steps"]})
