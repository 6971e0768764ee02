"""`spotctl analytics simulate|train|models|anomalies|forecast|segments` against the stack, as a user runs them."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.stack


def test_simulate_train_and_look_at_the_models(env: dict[str, str], cli: Any) -> None:
    tenant = f"cli-{uuid.uuid4().hex[:6]}"
    refused = cli("analytics", "simulate", "--tenants", tenant, "--days", "13")
    assert refused.returncode == 2 and "--yes" in refused.stderr  # no terminal to ask on

    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - dt.timedelta(days=today.weekday())  # the same times of the week on every run
    simulated = cli("analytics", "simulate", "--tenants", tenant, "--days", "13", "--users", "60", "--yes",
                    "--end", monday.isoformat(), "-o", "json")
    assert simulated.returncode == 0, simulated.stderr
    report = json.loads(simulated.stdout)
    assert report["minutes"] == 13 * 1440 and report["influx_points"] == 13 * 1440 * 7 and report["anomalies"] == 13

    trained = cli("analytics", "train", "anomaly_detector", "--tenant", tenant, "--days", "7", "--promote",
                  "-p", "contamination=0.012", "-o", "json", timeout=300)
    assert trained.returncode == 0, trained.stderr
    record = json.loads(trained.stdout)
    assert record["status"] == "promoted" and record["params"]["contamination"] == 0.012
    assert record["metrics"]["incident_recall"] >= 0.6

    listed = json.loads(cli("analytics", "models", "anomaly_detector", "-o", "json").stdout)
    assert listed[0]["version"] == record["version"] and listed[0]["status"] == "promoted"

    scan = cli("analytics", "anomalies", "--tenant", tenant, "--scan", "13", "-n", "5")
    assert scan.returncode == 0, scan.stderr
    assert "scan:" in scan.stderr and "precision" in scan.stderr and tenant in scan.stdout, (scan.stdout, scan.stderr)

    cli("analytics", "train", "predictive_analytics", "--tenant", tenant, "--days", "13", "--promote",
        "-p", "n_estimators=20", timeout=300)
    chart = cli("analytics", "forecast", "--tenant", tenant, "--chart")
    assert chart.returncode == 0, chart.stderr
    assert f"plays of {tenant}: next 24 h" in chart.stdout and "\x1b[" not in chart.stdout
    table = cli("analytics", "forecast", "--tenant", tenant, "-m", "active_users", "--horizon", "3h")
    assert table.stdout.count("2026-") + table.stdout.count("2027-") == 3

    cli("analytics", "train", "behavior_analyzer", "--tenant", tenant, "--promote", timeout=300)
    segments = json.loads(cli("analytics", "segments", "--tenant", tenant, "-o", "json").stdout)
    assert sum(s["users"] for s in segments["stored"]) == 60 and segments["silhouette"] > 0.3


def test_ml_commands_say_what_is_wrong(env: dict[str, str], cli: Any) -> None:
    unknown = cli("analytics", "train", "forest")
    assert unknown.returncode == 2 and "anomaly_detector" in unknown.stderr and "Traceback" not in unknown.stderr
    bad_param = cli("analytics", "train", "anomaly_detector", "-p", "contamination")
    assert bad_param.returncode == 2 and "NAME=VALUE" in bad_param.stderr
    no_version = cli("analytics", "models", "anomaly_detector", "--promote", "99999")
    assert no_version.returncode == 2 and "has no version 99999" in no_version.stderr
    a_path = cli("analytics", "models", "../../metrics", "--promote", "1")
    assert a_path.returncode == 2 and "unknown model '../../metrics'" in a_path.stderr, a_path.stderr
    horizon = cli("analytics", "forecast", "--tenant", "x", "--horizon", "soon")
    assert horizon.returncode == 2 and "horizon 'soon'" in horizon.stderr
    bad_sim = cli("analytics", "simulate", "--tenants", ",", "--yes")
    assert bad_sim.returncode == 2 and "at least one tenant" in bad_sim.stderr
    bad_end = cli("analytics", "simulate", "--end", "soon", "--yes")
    assert bad_end.returncode == 2 and "--end 'soon' is not an ISO 8601 time" in bad_end.stderr


def test_no_anomaly_is_a_sentence_saying_how_detection_starts_not_an_empty_table(cli: Any) -> None:
    quiet = cli("analytics", "anomalies", "--tenant", f"quiet-{uuid.uuid4().hex[:6]}")
    assert quiet.returncode == 0 and quiet.stdout == "", quiet.stdout
    assert "no anomaly flagged" in quiet.stderr and "spotctl analytics train anomaly_detector" in quiet.stderr
    as_json = cli("analytics", "anomalies", "--tenant", f"quiet-{uuid.uuid4().hex[:6]}", "-o", "json")
    assert json.loads(as_json.stdout) == []
