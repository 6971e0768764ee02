"""What the engine, the API and the CLI call: train, score, predict, forecast, segments, anomalies, models.

One `MLService` per process, over PostgreSQL (features, registry, results) and the models folder.
Everything here is synchronous — the models are CPU-bound — and async callers run it in a thread
(`asyncio.to_thread`), as the engine's ml bridge does with `score_minute`.

Errors a caller can fix are `MLError`s (bad input, unknown tenant or model) or `ModelNotTrained`
(which says how to train); the API maps them to 4xx/409, the CLI to a message and exit code.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import psycopg

from spotctl_sandbox.analytics.ml import store
from spotctl_sandbox.analytics.ml.anomaly import AnomalyDetector, AnomalyResult, UnknownTenant
from spotctl_sandbox.analytics.ml.evaluation import detection_score
from spotctl_sandbox.analytics.ml.features import (
    MINUTE_COLUMNS,
    USER_COLUMNS,
    FeatureError,
    MinuteFeatures,
    MinuteFrame,
    UserFeatures,
    UserFrame,
)
from spotctl_sandbox.analytics.ml.forecast import LAGS, Forecast, PredictiveAnalytics, backtest
from spotctl_sandbox.analytics.ml.registry import MODEL_NAMES, ModelManager, ModelNotTrained, ModelRecord
from spotctl_sandbox.analytics.ml.segments import BehaviorAnalyzer
from spotctl_sandbox.analytics.ml.simulate import anomaly_mask

log = logging.getLogger(__name__)

DEFAULT_TRAIN_DAYS = {"anomaly_detector": 14, "predictive_analytics": 21}


class MLError(ValueError):
    """Input the ML service cannot use; the message says what and how to fix it."""


class LiveScore(NamedTuple):
    """`(is_anomaly, anomaly_score)` as the engine unpacks it, with the reasons alongside."""

    is_anomaly: bool
    anomaly_score: float
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainResult:
    record: ModelRecord
    seconds: float


def _minute(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(float(value) / (1000 if value > 1e11 else 1), dt.UTC)
    if isinstance(value, str):
        try:
            return _minute(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            pass
    raise MLError(f"minute must be a datetime, epoch seconds or an ISO-8601 time, got {value!r}")


def minute_row(tenant: str, features: Mapping[str, Any]) -> MinuteFeatures:
    """A minute from a JSON-ish mapping; p99 may be None (filled by the caller)."""
    unknown = set(features) - {"minute", "tenant", *MINUTE_COLUMNS}
    if unknown:
        raise MLError(f"unknown feature(s) {', '.join(sorted(unknown))}; known: minute, {', '.join(MINUTE_COLUMNS)}")
    if "minute" not in features:
        raise MLError("each minute needs its 'minute' (when it started)")
    try:
        counts = {c: int(features.get(c) or 0) for c in MINUTE_COLUMNS[:-1]}
        p99 = features.get("delivery_p99_ms")
        return MinuteFeatures(str(tenant), _minute(features["minute"]), **counts,
                              delivery_p99_ms=float("nan") if p99 is None else float(p99))
    except (TypeError, ValueError) as exc:
        raise MLError(f"features must be numbers: {exc}") from exc


def user_row(features: Mapping[str, Any]) -> UserFeatures:
    missing = {"tenant", "user_id", *USER_COLUMNS} - set(features)
    if missing:
        raise MLError(f"user features need {', '.join(sorted(missing))}")
    try:
        return UserFeatures(str(features["tenant"]), int(features["user_id"]),
                            *[float(features[c]) for c in USER_COLUMNS])  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise MLError(f"user features must be numbers: {exc}") from exc


class MLService:
    def __init__(self, database_url: str, models_dir: Path | None = None) -> None:
        self.database_url = database_url
        self.manager = ModelManager(database_url, models_dir)

    def connect(self) -> psycopg.Connection[Any]:
        return self.manager.connect()

    # -- training --------------------------------------------------------------------------------

    def _window(self, conn: psycopg.Connection[Any], days: float,
                tenants: Sequence[str] | None = None) -> tuple[dt.datetime, dt.datetime]:
        """The last `days` up to the newest stored minute (of these tenants)."""
        row = conn.execute("SELECT max(minute) FROM analytics_minute_features" +
                           (" WHERE tenant = ANY(%s)" if tenants else ""), (list(tenants),) if tenants else ()
                           ).fetchone()
        if row is None or row[0] is None:
            whose = f" for {', '.join(tenants)}" if tenants else ""
            raise MLError(f"analytics_minute_features has no minutes{whose}: no traffic to learn from yet; run "
                          "`spotctl analytics simulate --yes` for history, or let the engine count live traffic")
        end = row[0] + dt.timedelta(minutes=1)
        return end - dt.timedelta(days=days), end

    def train(self, name: str, days: float | None = None, tenants: Sequence[str] | None = None,
              params: Mapping[str, Any] | None = None, promote: bool | None = None) -> TrainResult:
        if name not in MODEL_NAMES:
            raise MLError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}")
        if days is not None and not 0 < days <= 400:
            raise MLError("days must be between 0 and 400")
        started = time.perf_counter()
        try:
            with self.connect() as conn:
                if name == "behavior_analyzer":
                    return self._train_segments(conn, tenants, params or {}, promote, started)
                window = self._window(conn, days or DEFAULT_TRAIN_DAYS[name], tenants)
                frame = store.load_minutes(conn, *window, tenants=tenants)
                if not len(frame):
                    raise MLError(f"no minute features for {', '.join(tenants or ['any tenant'])} in "
                                  f"{window[0]:%Y-%m-%d %H:%M} .. {window[1]:%Y-%m-%d %H:%M} UTC")
                model: Any
                if name == "anomaly_detector":
                    model = AnomalyDetector(**dict(params or {})).fit(frame)
                    metrics = self._evaluate_detector(conn, model, frame, window)
                else:
                    model = PredictiveAnalytics(**dict(params or {})).fit(frame)
                    metrics = self._evaluate_forecaster(frame, dict(params or {}))
                metrics["train_seconds"] = round(time.perf_counter() - started, 3)
                data_window = frame.window()
                assert data_window is not None
                record = self.manager.register(name, model, metrics,
                                               (data_window[0], data_window[1] + dt.timedelta(minutes=1)),
                                               frame.tenant_names(), promote)
        except (FeatureError, TypeError) as exc:
            raise MLError(str(exc)) from exc
        return TrainResult(record, round(time.perf_counter() - started, 3))

    def _evaluate_detector(self, conn: psycopg.Connection[Any], model: AnomalyDetector, frame: MinuteFrame,
                           window: tuple[dt.datetime, dt.datetime]) -> dict[str, Any]:
        """On the training window: the flagged share, and precision/recall where ground truth was recorded."""
        flags = np.array([r.is_anomaly for r in model.predict(frame)])
        metrics: dict[str, Any] = {"minutes": len(frame), "flagged_share": round(float(flags.mean()), 5)}
        truth_rows = [a for a in store.load_ground_truth(conn, *window) if a.tenant in set(frame.tenant_names())]
        if truth_rows:
            score = detection_score(flags, anomaly_mask(frame, truth_rows), frame.tenants)
            metrics.update({"ground_truth_anomalies": len(truth_rows), **score.as_dict()})
        return metrics

    @staticmethod
    def _evaluate_forecaster(frame: MinuteFrame, params: dict[str, Any]) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        for metric in ("plays", "active_users"):
            try:
                result = backtest(frame, metric, folds=2, **params)
            except FeatureError as exc:  # too short a history to hold days out: say so, train anyway
                metrics[metric] = {"backtest": f"skipped: {exc}"}
                continue
            metrics[metric] = {"model_mape": result.model_mape, "seasonal_naive_mape": result.baseline_mape,
                               "interval_coverage": result.coverage, "folds": result.folds}
        return metrics

    def _train_segments(self, conn: psycopg.Connection[Any], tenants: Sequence[str] | None,
                        params: Mapping[str, Any], promote: bool | None, started: float) -> TrainResult:
        users = store.load_users(conn, tenants)
        if not len(users):
            raise MLError("analytics_user_features is empty: no listeners to segment yet; run "
                          "`spotctl analytics simulate --yes` or let the feature pipeline run")
        model = BehaviorAnalyzer(**dict(params)).fit(users)
        metrics = {"users": len(users), "silhouette": model.silhouette, "k": len(model.segments),
                   "silhouette_by_k": {str(k): v for k, v in model.tried.items()},
                   "segments": [{"segment": s.segment, "label": s.label, "size": s.size} for s in model.segments],
                   "train_seconds": round(time.perf_counter() - started, 3)}
        record = self.manager.register("behavior_analyzer", model, metrics, None,
                                       sorted({str(t) for t in users.tenants}), promote)
        if record.status == "promoted":
            store.save_segments(conn, model.predict(users), record.version)
        return TrainResult(record, round(time.perf_counter() - started, 3))

    def promote(self, name: str, version: int) -> ModelRecord:
        record = self.manager.promote(name, version)
        if name == "behavior_analyzer":  # the stored segments follow the promoted model
            with self.connect() as conn:
                _, model = self.manager.get_versioned(name)
                store.save_segments(conn, model.predict(store.load_users(conn)), record.version)
        return record

    def models(self, name: str | None = None) -> list[ModelRecord]:
        return self.manager.list_models(name)

    # -- live scoring and anomalies --------------------------------------------------------------

    def score_minute(self, tenant: str, features: Mapping[str, Any], record: bool = True) -> LiveScore:
        """Score one minute with the promoted detector; a flagged minute is stored in analytics_anomalies."""
        version, detector = self.manager.get_versioned("anomaly_detector")
        row = minute_row(tenant, features)
        try:
            if np.isnan(row.delivery_p99_ms):  # not measured: take the usual value, neither alarm nor hide
                minute = np.datetime64(row.minute.astimezone(dt.UTC).replace(tzinfo=None), "m")
                usual = detector.expected(tenant, np.array([minute]))
                row = MinuteFeatures(**{**row.__dict__, "delivery_p99_ms": float(usual[0, -1])})
            result, = detector.predict(row)
        except UnknownTenant as exc:
            raise MLError(f"tenant {tenant!r} was not in the anomaly detector's training data "
                          f"(v{version} knows {', '.join(detector.tenants)}); retrain with "
                          f"`spotctl analytics train anomaly_detector`") from exc
        if record and result.is_anomaly:
            with self.connect() as conn:
                store.save_anomalies(conn, [result], version, "live")
        return LiveScore(result.is_anomaly, result.anomaly_score, result.reasons)

    def predict_minutes(self, tenant: str, minutes: Sequence[Mapping[str, Any]]) -> list[AnomalyResult]:
        _, detector = self.manager.get_versioned("anomaly_detector")
        rows = [minute_row(tenant, m) for m in minutes]
        if any(np.isnan(r.delivery_p99_ms) for r in rows):
            raise MLError("delivery_p99_ms is needed for every minute given to predict")
        try:
            return list(detector.predict(MinuteFrame.from_rows(rows)))
        except UnknownTenant as exc:
            raise MLError(f"tenant {tenant!r} was not in the anomaly detector's training data") from exc
        except FeatureError as exc:
            raise MLError(str(exc)) from exc

    def predict_segments(self, users: Sequence[Mapping[str, Any]]) -> list[Any]:
        _, analyzer = self.manager.get_versioned("behavior_analyzer")
        try:
            return list(analyzer.predict(UserFrame.from_rows([user_row(u) for u in users])))
        except FeatureError as exc:
            raise MLError(str(exc)) from exc

    def scan(self, tenant: str | None = None, days: float = 1.0) -> dict[str, Any]:
        """Run the promoted detector over stored minutes, store what it flags, score it against ground truth."""
        version, detector = self.manager.get_versioned("anomaly_detector")
        with self.connect() as conn:
            known = [t for t in detector.tenants if tenant in (None, t)]
            if tenant is not None and not known:
                raise MLError(f"tenant {tenant!r} was not in the anomaly detector's training data; known: "
                              f"{', '.join(detector.tenants)}")
            window = self._window(conn, days, known)
            frame = store.load_minutes(conn, *window, tenants=known)
            results = detector.predict(frame) if len(frame) else []
            flagged = store.save_anomalies(conn, results, version, "scan")
            summary: dict[str, Any] = {"model_version": version, "minutes": len(frame), "flagged": flagged,
                                       "window_start": window[0], "window_end": window[1]}
            truth = [a for a in store.load_ground_truth(conn, *window) if a.tenant in set(known)]
            summary["ground_truth_anomalies"] = len(truth)
            if truth and len(frame):
                flags = np.array([r.is_anomaly for r in results])
                summary["against_ground_truth"] = detection_score(flags, anomaly_mask(frame, truth),
                                                                  frame.tenants).as_dict()
        return summary

    def anomalies(self, tenant: str | None = None, since: dt.datetime | None = None,
                  limit: int = 100) -> list[store.StoredAnomaly]:
        if not 1 <= limit <= 10_000:
            raise MLError("limit must be 1..10000")
        with self.connect() as conn:
            return store.list_anomalies(conn, tenant, since, limit)

    # -- forecasting and segments ----------------------------------------------------------------

    def forecast(self, tenant: str, metric: str = "plays", horizon: int = 24, confidence: float = 0.9) -> Forecast:
        """The hours from the current (incomplete) one on, from the tenant's stored history (or the model's own
        when too little is stored)."""
        _, model = self.manager.get_versioned("predictive_analytics")
        with self.connect() as conn:
            _, last = self._window(conn, 1, [tenant])
            until = last.replace(minute=0, second=0, microsecond=0)  # whole hours: the current one is forecast
            since = until - dt.timedelta(hours=max(LAGS) + 48)
            history = store.load_minutes(conn, since, until, tenants=[tenant])
        try:
            use = history if len(history) >= (max(LAGS) + 24) * 60 * 0.9 else None
            forecast: Forecast = model.forecast(metric, horizon, confidence, tenant=tenant, history=use)
            return forecast
        except FeatureError as exc:
            raise MLError(str(exc)) from exc

    def segments(self, tenant: str | None = None) -> dict[str, Any]:
        version, model = self.manager.get_versioned("behavior_analyzer")
        with self.connect() as conn:
            stored = store.segment_sizes(conn, tenant)
        return {"model_version": version, "silhouette": model.silhouette,
                "segments": [{"segment": s.segment, "label": s.label, "centre": s.centre} for s in model.segments],
                "stored": [{"tenant": t, "segment": seg, "label": label, "users": n} for t, seg, label, n in stored]}


# -- the process's default service, for the engine's bridge ---------------------------------------

_default: MLService | None = None
_default_lock = threading.Lock()


def default_service() -> MLService:
    """The service configured from the environment the compose file sets (DATABASE_URL, MEDIA_DIR)."""
    global _default
    with _default_lock:
        if _default is None:
            from spotctl_sandbox.common.settings import Settings

            _default = MLService(Settings.from_env().database_url)
        return _default


def score_minute(tenant: str, features: Mapping[str, Any]) -> LiveScore:
    """Live scoring for the engine: `(is_anomaly, anomaly_score)` of one final minute (sync; run in a thread)."""
    return default_service().score_minute(tenant, features)


__all__ = ["LiveScore", "MLError", "MLService", "ModelNotTrained", "TrainResult", "default_service", "score_minute"]
