"""PredictiveAnalytics: a RandomForest forecasting plays and active users per hour, with an interval.

Each target hour is described by what is known a day or more before it (the same hour 1, 2, 7 and 8
days earlier, the previous day's mean and the same day's a week before) and by the calendar (hour of
day, day of week), all divided by the tenant's level so one forest serves every tenant. The forest
learns the log ratio to a structural base, the seasonal-naive value (the same hour a week before)
scaled by how the last known day compared with its own week-earlier day: trees are poor at copying
a lag through piecewise constants, good at learning corrections such as "drift fades by evening".
With a few weeks of history the base carries most of the gain (BENCHMARKS.md gives naive, base and
forest figures separately); the forest's share grows with the history. Lags of 24 h and more make the next 24 hours a
direct forecast; longer horizons feed forecasts back in. The interval is split-conformal on the
forest's out-of-bag errors: the |log error| quantile at the asked confidence, around the forecast.

`backtest` refits on rolling origins and compares with the seasonal-naive forecast (the same hour a
week earlier) — the baseline any forecast has to beat to be worth running. Pure: frames in,
dataclasses out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from spotctl_sandbox.analytics.ml.evaluation import mape
from spotctl_sandbox.analytics.ml.features import FeatureError, MinuteFrame, hourly, to_datetime

FORECAST_METRICS = ("plays", "active_users")
SEASON_H = 168  # the seasonal-naive baseline's season: a week of hours
LAGS = (24, 168, 192, 240)  # 240: the day before yesterday, a week earlier
MIN_HISTORY_H = max(LAGS) + 48  # the longest lag plus two days of training rows
MAX_HORIZON_H = 168
EPS = 0.01  # in units of the tenant's mean level: keeps log ratios finite on silent hours


@dataclass(frozen=True)
class ForecastPoint:
    at: dt.datetime  # the hour's start (UTC)
    value: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Forecast:
    tenant: str
    metric: str
    horizon_h: int
    confidence: float
    points: tuple[ForecastPoint, ...]


@dataclass(frozen=True)
class BacktestResult:
    metric: str
    folds: int
    horizon_h: int
    model_mape: float  # percent
    baseline_mape: float  # seasonal naive, percent
    coverage: float  # share of actual hours inside the interval
    confidence: float

    @property
    def beats_baseline(self) -> bool:
        return self.model_mape < self.baseline_mape


def _calendar(hours: np.ndarray) -> np.ndarray:
    since_epoch = hours.astype("datetime64[h]").astype(np.int64)
    hour = since_epoch % 24
    dow = ((since_epoch // 24) + 3) % 7  # Monday = 0
    return np.column_stack([hour, dow, dow >= 5,
                            np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24)]).astype(float)


def _day(series: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Mean of the 24 hours before each position in `end`."""
    cumulative = np.concatenate([[0.0], np.cumsum(series)])
    return (cumulative[end] - cumulative[end - 24]) / 24


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.log((a + EPS) / (b + EPS))


def _base(series: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Seasonal naive scaled by the last fully known day's week-over-week change (normalised units)."""
    known = targets - 23  # the last day that is fully known for every target of a 24-hour forecast
    drift = (_day(series, known) + EPS) / (_day(series, known - SEASON_H) + EPS)
    return series[targets - SEASON_H] * drift


def _rows(series: np.ndarray, hours: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Features of the target positions `targets` in a normalised series (all lags must be in range).

    Week-over-week ratios rather than levels, and no hour-of-week identity: with a few weeks of
    history such a feature lets the forest memorise last week's noise instead of learning how the
    week-over-week change of the last known days carries over to the target's.
    """
    known = targets - 23
    calendar = _calendar(hours[targets])
    return np.column_stack([
        _ratio(_day(series, known), _day(series, known - SEASON_H)),
        _ratio(_day(series, known - 24), _day(series, known - SEASON_H - 24)),
        _ratio(series[targets - 24], series[targets - SEASON_H - 24]),  # the same hour yesterday
        calendar[:, 0], calendar[:, 2],
    ])


@dataclass
class _TenantState:
    level: float  # mean of the metric over training: the unit of the normalised series
    hours: np.ndarray  # the last MIN_HISTORY_H hours seen, to forecast from
    series: np.ndarray


class PredictiveAnalytics:
    name = "predictive_analytics"

    def __init__(self, n_estimators: int = 150, min_samples_leaf: int = 20, random_state: int = 0) -> None:
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state
        self._models: dict[str, RandomForestRegressor] = {}
        self._residuals: dict[str, np.ndarray] = {}  # metric -> sorted |OOB error| (normalised)
        self._state: dict[tuple[str, str], _TenantState] = {}

    def params(self) -> dict[str, Any]:
        return {"n_estimators": self.n_estimators, "min_samples_leaf": self.min_samples_leaf,
                "random_state": self.random_state, "lags_h": list(LAGS), "metrics": list(FORECAST_METRICS)}

    @property
    def tenants(self) -> list[str]:
        return sorted({t for t, _ in self._state})

    def fit(self, frame: MinuteFrame) -> PredictiveAnalytics:
        for metric in FORECAST_METRICS:
            xs, ys = [], []
            for tenant in frame.tenant_names():
                hours, values = hourly(frame, tenant, metric)
                if len(values) < MIN_HISTORY_H:
                    raise FeatureError(f"tenant {tenant!r} has {len(values)} hours of history; forecasting needs "
                                       f"at least {MIN_HISTORY_H} ({MIN_HISTORY_H // 24} days)")
                level = max(float(values.mean()), 1e-9)
                series = values / level
                targets = np.arange(max(LAGS), len(series))
                xs.append(_rows(series, hours, targets))
                ys.append(_ratio(series[targets], _base(series, targets)))
                self._state[(tenant, metric)] = _TenantState(level, hours[-MIN_HISTORY_H:], values[-MIN_HISTORY_H:])
            model = RandomForestRegressor(n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf,
                                          oob_score=True, random_state=self.random_state, n_jobs=1)
            x, y = np.concatenate(xs), np.concatenate(ys)
            model.fit(x, y)
            self._models[metric] = model
            self._residuals[metric] = np.sort(np.abs(y - model.oob_prediction_))
        return self

    def forecast(self, metric: str, horizon: int = 24, confidence_interval: float = 0.9, tenant: str = "default",
                 history: MinuteFrame | None = None) -> Forecast:
        """The next `horizon` hours after the history (the training data's end unless `history` is given)."""
        model = self._models.get(metric)
        if metric not in FORECAST_METRICS:
            raise FeatureError(f"cannot forecast {metric!r}; forecastable: {', '.join(FORECAST_METRICS)}")
        if model is None:
            raise RuntimeError("the forecaster is not trained: call fit() first")
        if not 1 <= horizon <= MAX_HORIZON_H:
            raise FeatureError(f"horizon must be 1..{MAX_HORIZON_H} hours, got {horizon}")
        if not 0 < confidence_interval < 1:
            raise FeatureError(f"confidence_interval must be between 0 and 1, got {confidence_interval}")
        state = self._state.get((tenant, metric))
        if state is None:
            raise FeatureError(f"no forecast for tenant {tenant!r}: it was not in the training data "
                               f"(known: {', '.join(self.tenants)})")
        hours, values = state.hours, state.series
        if history is not None:
            hours, values = hourly(history, tenant, metric)
            if len(values) < max(LAGS):
                raise FeatureError(f"history of tenant {tenant!r} is {len(values)} hours; need {max(LAGS)}")
        start = len(values)
        series = np.concatenate([values / state.level, np.zeros(horizon)])
        all_hours = np.concatenate([hours, hours[-1] + np.arange(1, horizon + 1).astype("timedelta64[h]")])
        for block in range(start, start + horizon, 24):  # each day direct (lags >= 24), later days fed back
            targets = np.arange(block, min(block + 24, start + horizon))
            ratio = np.exp(model.predict(_rows(series, all_hours, targets)))
            series[targets] = np.maximum((_base(series, targets) + EPS) * ratio - EPS, 0.0)
        width = float(np.quantile(self._residuals[metric], confidence_interval))  # in log units
        points = []
        for i in range(horizon):
            value = float(series[start + i]) * state.level
            spread = float(np.exp(width * np.sqrt(1 + i // 24)))  # fed-back days are less sure
            points.append(ForecastPoint(to_datetime(all_hours[start + i].astype("datetime64[m]")),
                                        round(value, 3), round(value / spread, 3), round(value * spread, 3)))
        return Forecast(tenant, metric, horizon, confidence_interval, tuple(points))


def seasonal_naive(values: np.ndarray, origin: int, horizon: int, season: int = SEASON_H) -> np.ndarray:
    """The baseline: each hour after `origin` is the same hour one season earlier."""
    return np.array([values[origin + h - season * (1 + h // season)] for h in range(horizon)])


def backtest(frame: MinuteFrame, metric: str, folds: int = 3, horizon: int = 24, confidence: float = 0.9,
             **params: Any) -> BacktestResult:
    """Rolling-origin evaluation: for each of the last `folds` days, train on what came before it."""
    if folds < 1:
        raise FeatureError("folds must be at least 1")
    series = {t: hourly(frame, t, metric) for t in frame.tenant_names()}
    end = min(hours[-1] for hours, _ in series.values()) + np.timedelta64(1, "h")
    actual_all, model_all, base_all, inside = [], [], [], 0
    for fold in range(folds, 0, -1):
        cutoff = end - np.timedelta64(fold * horizon, "h")
        model = PredictiveAnalytics(**params).fit(frame.before(cutoff.astype("datetime64[m]")))
        for tenant, (hours, values) in series.items():
            origin = int((cutoff - hours[0]).astype(np.int64))
            fc = model.forecast(metric, horizon, confidence, tenant=tenant)
            actual = values[origin:origin + horizon]
            actual_all.append(actual)
            model_all.append(np.array([p.value for p in fc.points]))
            base_all.append(seasonal_naive(values, origin, horizon))
            inside += int(sum(p.lower <= a <= p.upper for p, a in zip(fc.points, actual, strict=True)))
    actual = np.concatenate(actual_all)
    return BacktestResult(metric, folds, horizon, round(mape(actual, np.concatenate(model_all)), 3),
                          round(mape(actual, np.concatenate(base_all)), 3), round(inside / len(actual), 3),
                          confidence)
