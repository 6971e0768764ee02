"""Figures of the analytics ML models on simulated traffic (prints them; asserts nothing).

    .venv/bin/python benchmarks/ml_models.py [--seeds 1,2,3,4,5] [--json FILE]

For each seed: anomaly detection precision / recall (minute and incident level) on 14 days of three
tenants with ~1 injected anomaly per tenant per day; forecast MAPE of the RandomForest against the
seasonal-naive baseline (and the drift-adjusted base alone) on a rolling-origin backtest of 3 days
over 12 tenants with 20 days of history; segmentation silhouette and agreement with the
generator's archetypes; training and scoring times. Pure in-process (no stack needed): the models
are numpy in, dataclasses out. The box is shared: times are CPU-bound and vary with the load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score

from spotctl_sandbox.analytics.ml.anomaly import AnomalyDetector
from spotctl_sandbox.analytics.ml.evaluation import detection_score, mape
from spotctl_sandbox.analytics.ml.features import hourly
from spotctl_sandbox.analytics.ml.forecast import PredictiveAnalytics, _base, backtest
from spotctl_sandbox.analytics.ml.segments import BehaviorAnalyzer
from spotctl_sandbox.analytics.ml.simulate import SimConfig, simulate

END = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def detection(seed: int) -> dict[str, Any]:
    sim = simulate(SimConfig(days=14, end=END, seed=seed, users_per_tenant=0))
    detector, fit_s = timed(AnomalyDetector().fit, sim.minutes)
    results, score_s = timed(detector.predict, sim.minutes)
    score = detection_score(np.array([r.is_anomaly for r in results]), sim.truth(), sim.minutes.tenants)
    return {**score.as_dict(), "anomalies": len(sim.anomalies), "minutes": len(sim.minutes),
            "fit_s": round(fit_s, 2), "score_s": round(score_s, 2),
            "score_us_per_minute": round(score_s / len(sim.minutes) * 1e6, 1)}


def base_mape(sim: Any, folds: int = 3) -> float:
    """The drift-adjusted seasonal base alone (what the forest corrects), over the same held-out days."""
    actual, predicted = [], []
    for tenant in sim.minutes.tenant_names():
        _, values = hourly(sim.minutes, tenant, "plays")
        targets = np.arange(len(values) - folds * 24, len(values))
        actual.append(values[targets])
        predicted.append(_base(values, targets))
    return round(mape(np.concatenate(actual), np.concatenate(predicted)), 3)


def forecasting(seed: int) -> dict[str, Any]:
    sim = simulate(SimConfig(days=20, end=END, seed=seed, tenants=tuple(f"t{i}" for i in range(12)),
                             users_per_tenant=0))
    result, backtest_s = timed(backtest, sim.minutes, "plays", folds=3)
    _, fit_s = timed(PredictiveAnalytics().fit, sim.minutes)
    return {"model_mape": result.model_mape, "seasonal_naive_mape": result.baseline_mape,
            "drift_base_mape": base_mape(sim), "coverage_90": result.coverage,
            "fit_s": round(fit_s, 2), "backtest_s": round(backtest_s, 2)}


def segmentation(seed: int) -> dict[str, Any]:
    sim = simulate(SimConfig(days=1, end=END, seed=seed, users_per_tenant=1000))
    analyzer, fit_s = timed(BehaviorAnalyzer().fit, sim.users)
    labels = [a.segment for a in analyzer.predict(sim.users)]
    return {"users": len(sim.users), "k": len(analyzer.segments), "silhouette": analyzer.silhouette,
            "ari_vs_archetypes": round(adjusted_rand_score(sim.user_archetypes, labels), 4),
            "fit_s": round(fit_s, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"load average at start: {os.getloadavg()}", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {"detection": [], "forecast": [], "segments": []}
    for seed in seeds:
        for name, fn in (("detection", detection), ("forecast", forecasting), ("segments", segmentation)):
            row = {"seed": seed, **fn(seed)}
            runs[name].append(row)
            print(name, json.dumps(row, default=str), flush=True)
    print(f"load average at end: {os.getloadavg()}")
    print("\nmedians over seeds", seeds)
    for name, rows in runs.items():
        keys = [k for k in rows[0] if k != "seed" and isinstance(rows[0][k], int | float)]
        print(f"  {name}: " + ", ".join(f"{k} {statistics.median(r[k] for r in rows):g}" for k in keys))
    wins = sum(r["model_mape"] < r["seasonal_naive_mape"] for r in runs["forecast"])
    print(f"  forecast beat seasonal naive in {wins} of {len(seeds)} seeds")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2, default=str))


if __name__ == "__main__":
    main()
