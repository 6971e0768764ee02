"""The ML service on the real PostgreSQL and InfluxDB: simulate -> train -> version -> promote -> load,
detection against the recorded ground truth, stored segments, forecasts, and the errors a user can cause.

Every test's tenants carry a fresh suffix and models go to a folder of the test's own, so these tests
share the stores with the rest of the suite without seeing its rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from spotctl_sandbox.analytics.ml import history
from spotctl_sandbox.analytics.ml.registry import ArtifactError, ModelManager, ModelNotTrained
from spotctl_sandbox.analytics.ml.service import MLError, MLService
from spotctl_sandbox.analytics.ml.simulate import SimConfig, simulate
from tests.support.databases import empty_database

pytestmark = pytest.mark.stack


def week_start() -> dt.datetime:
    """Last Monday 00:00 UTC. Simulated history ends there, so its anomalies fall at the same times of
    the week whenever the tests run (an outage at 4 a.m. is harder to see than one at 8 p.m.)."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=today.weekday())


@pytest.fixture(scope="module")
def ml_env(stack: Any) -> dict[str, str]:
    stack.up("influxdb")
    return dict(stack.env)


@pytest.fixture(scope="module")
def history_run(ml_env: dict[str, str]) -> dict[str, Any]:
    """Two weeks of two tenants' traffic with injected anomalies, written as `spotctl analytics simulate` does."""
    suffix = uuid.uuid4().hex[:6]
    config = SimConfig(tenants=(f"north-{suffix}", f"east-{suffix}"), days=14, seed=7, users_per_tenant=150,
                       end=week_start())
    report = history.simulate_into(ml_env["DATABASE_URL"], config, None)
    return {"config": config, "report": report, "tenants": list(config.tenants)}


def stack_models_dir(env: dict[str, str]) -> Path:
    """The folder the stack's analytics service keeps artifacts in: one registry, one folder."""
    return Path(env["MEDIA_DIR"]).parent / "models"


@pytest.fixture
def service(ml_env: dict[str, str]) -> MLService:
    return MLService(ml_env["DATABASE_URL"], stack_models_dir(ml_env))


def test_a_model_asked_for_before_training_says_how_to_train_it(ml_env: dict[str, str], tmp_path: Path) -> None:
    with psycopg.connect(ml_env["DATABASE_URL"], autocommit=True) as conn:  # a registry with no detector
        MLService(ml_env["DATABASE_URL"]).connect().close()
        conn.execute("DELETE FROM analytics_models WHERE name = 'anomaly_detector'")
    manager = ModelManager(ml_env["DATABASE_URL"], tmp_path)
    with pytest.raises(ModelNotTrained, match=r"spotctl analytics train anomaly_detector"):
        manager.get_model("anomaly_detector")
    with pytest.raises(KeyError, match="unknown model 'nope'; known: anomaly_detector"):
        manager.get_model("nope")


@pytest.fixture
def empty_db(ml_env: dict[str, str]) -> Iterator[str]:
    """A database of this test's own with no table in it: a stack whose analytics never trained."""
    with empty_database(ml_env["DATABASE_URL"], "spotctl_ml_test") as url:
        yield url


def test_a_fresh_registry_answers_promote_forecast_and_listing_before_any_training(empty_db: str,
                                                                                 tmp_path: Path) -> None:
    """Each asked first of its own service (what a learner types first on a new stack)."""
    with pytest.raises(LookupError, match=r"anomaly_detector has no version 1; versions: none \(train one\)"):
        MLService(empty_db, tmp_path).promote("anomaly_detector", 1)
    with pytest.raises(ModelNotTrained, match="spotctl analytics train predictive_analytics"):
        MLService(empty_db, tmp_path).forecast("default")
    assert MLService(empty_db, tmp_path).models() == []


def test_lifecycle_train_version_promote_load(history_run: dict[str, Any], service: MLService,
                                              ml_env: dict[str, str]) -> None:
    tenants = history_run["tenants"]
    first = service.train("anomaly_detector", days=14, tenants=tenants)
    assert first.record.status == "promoted"  # the first version goes live at once
    metrics = first.record.metrics
    # measured (seed 7, history ending on a Monday): precision 0.76, recall 0.66 over the training fortnight
    assert metrics["precision"] >= 0.6 and metrics["recall"] >= 0.45, metrics
    assert first.record.window_end is not None and first.record.tenants == tuple(sorted(tenants))

    second = service.train("anomaly_detector", days=7, tenants=tenants, params={"contamination": 0.02})
    assert (second.record.version, second.record.status) == (first.record.version + 1, "candidate")
    assert second.record.params["contamination"] == 0.02
    assert service.manager.get_versioned("anomaly_detector")[0] == first.record.version

    promoted = service.promote("anomaly_detector", second.record.version)
    assert promoted.status == "promoted"
    statuses = {r.version: r.status for r in service.models("anomaly_detector")}
    assert statuses[first.record.version] == "retired" and statuses[second.record.version] == "promoted"

    fresh = ModelManager(ml_env["DATABASE_URL"], service.manager.models_dir)  # another process
    assert fresh.load_all_models()["anomaly_detector"] == second.record.version
    assert fresh.get_model("anomaly_detector").contamination == 0.02
    with pytest.raises(LookupError, match="has no version 999"):
        service.promote("anomaly_detector", 999)

    artifact = service.manager.models_dir / promoted.artifact_path
    original = artifact.read_bytes()
    artifact.write_bytes(original + b"tampered")
    try:
        with pytest.raises(ArtifactError, match="does not match its recorded sha256"):
            ModelManager(ml_env["DATABASE_URL"], service.manager.models_dir).get_model("anomaly_detector")
    finally:
        artifact.write_bytes(original)


def test_scan_finds_the_recorded_anomalies_and_live_scoring_stores_them(history_run: dict[str, Any],
                                                                         service: MLService) -> None:
    tenants = history_run["tenants"]
    service.train("anomaly_detector", days=14, tenants=tenants, promote=True)
    summary = service.scan(days=14, tenant=tenants[0])
    truth = summary["against_ground_truth"]
    assert truth["incident_recall"] >= 0.8 and truth["precision"] >= 0.6, truth
    stored = service.anomalies(tenant=tenants[0], limit=10_000)
    assert len(stored) == summary["flagged"] and all(a.source == "scan" for a in stored)

    when = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=5)
    normal = service.score_minute(tenants[1], {"minute": when.timestamp(), "plays": 400, "active_users": 160,
                                              "errors": 1, "delivery_p99_ms": None})
    outage = service.score_minute(tenants[1], {"minute": when.isoformat(), "plays": 3, "active_users": 2,
                                              "errors": 90, "delivery_p99_ms": 900.0})
    assert outage.is_anomaly and outage.anomaly_score > normal.anomaly_score
    latest = service.anomalies(tenant=tenants[1], limit=1)[0]
    assert (latest.minute, latest.source) == (when, "live")
    with pytest.raises(MLError, match="was not in the anomaly detector's training data"):
        service.score_minute("nobody-" + uuid.uuid4().hex[:4], {"minute": when, "plays": 1})
    with pytest.raises(MLError, match="unknown feature"):
        service.score_minute(tenants[1], {"minute": when, "plays": 1, "revenue": 5})
    with pytest.raises(MLError, match="minute must be"):
        service.score_minute(tenants[1], {"minute": "yesterday", "plays": 1})


def test_segments_are_stored_and_the_silhouette_reported(history_run: dict[str, Any], service: MLService,
                                                         ml_env: dict[str, str]) -> None:
    tenants = history_run["tenants"]
    trained = service.train("behavior_analyzer", tenants=tenants, promote=True)
    assert trained.record.metrics["silhouette"] > 0.5 and trained.record.metrics["users"] == 300
    summary = service.segments(tenants[0])
    assert summary["model_version"] == trained.record.version
    assert sum(s["users"] for s in summary["stored"]) == 150
    with psycopg.connect(ml_env["DATABASE_URL"]) as conn:
        labels = conn.execute("SELECT DISTINCT label FROM analytics_user_segments WHERE tenant = ANY(%s) "
                              "AND model_version = %s", (tenants, trained.record.version)).fetchall()
    assert {"night owls", "heavy listeners"} <= {r[0] for r in labels}


def test_forecast_trains_on_stored_history_and_answers_24_hours(history_run: dict[str, Any],
                                                                service: MLService) -> None:
    tenants = history_run["tenants"]
    trained = service.train("predictive_analytics", days=14, tenants=tenants, promote=True,
                            params={"n_estimators": 40})
    assert "model_mape" in trained.record.metrics["plays"]  # 14 days: long enough for 2 held-out days
    fc = service.forecast(tenants[0], "plays", horizon=24, confidence=0.9)
    end = history_run["report"].window_end
    assert len(fc.points) == 24 and fc.points[0].at == end.replace(minute=0)
    with pytest.raises(MLError, match="horizon must be"):
        service.forecast(tenants[0], "plays", horizon=500)


def test_bad_training_requests_are_refused_with_the_fix(service: MLService) -> None:
    with pytest.raises(MLError, match="unknown model 'forest'"):
        service.train("forest")
    with pytest.raises(MLError, match="no minutes for ghost"):
        service.train("anomaly_detector", tenants=["ghost-" + uuid.uuid4().hex[:6]])
    with pytest.raises(MLError, match="days must be"):
        service.train("anomaly_detector", days=-1)


def test_simulated_history_lands_in_influxdb(ml_env: dict[str, str]) -> None:
    tenant = "influx-" + uuid.uuid4().hex[:6]
    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    report = history.simulate_into(ml_env["DATABASE_URL"], SimConfig(tenants=(tenant,), days=0.25, end=end,
                                                                     users_per_tenant=0), ml_env["INFLUXDB_URL"],
                                    ml_env["REDIS_URL"])
    assert report.influx_points == 360 * 7
    resp = httpx.get(ml_env["INFLUXDB_URL"] + "/query", params={
        "db": "analytics", "q": f"SELECT count(value), sum(value) FROM plays WHERE tenant = '{tenant}'"})
    count, total = resp.json()["results"][0]["series"][0]["values"][0][1:]
    sim = simulate(SimConfig(tenants=(tenant,), days=0.25, end=end, users_per_tenant=0))
    assert (count, total) == (360, sim.minutes.column("plays").sum())
    with psycopg.connect(ml_env["DATABASE_URL"]) as conn:
        stored = conn.execute("SELECT count(*), sum(plays) FROM analytics_minute_features WHERE tenant = %s",
                              (tenant,)).fetchone()
    assert stored == (360, total)
