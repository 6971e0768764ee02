"""AnomalyDetector: an IsolationForest over how far each minute is from its tenant's usual minute.

Raw counts are useless to a forest here: 3 a.m. and a collapse at 8 p.m. look alike. So each minute is
first compared with its tenant's seasonal profile (medians of each 15 minutes of the week, or of the
day when less than a week was seen, interpolated between buckets), and the forest sees how many
noise units away it is: counts as Poisson z-scores with a 5% allowance for the profile's own error,
delivery p99 as a log ratio, each divided by its robust spread in training so every tenant and
feature speaks the same units (a quiet tenant's noisy minutes are not anomalies). Scores follow the
paper: in (0, 1], above ~0.5 is unusual; `is_anomaly` uses the threshold `contamination` sets.
Measured on the simulator (docs/BENCHMARKS.md): minute precision ~0.7-0.85, recall ~0.6-0.8.
Pure: frames in, dataclasses out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest

from spotctl_sandbox.analytics.ml.features import MINUTE_COLUMNS, FeatureError, MinuteFeatures, MinuteFrame, to_datetime

DETECTOR_FEATURES = ("plays", "active_users", "errors", "delivery_p99_ms")
BUCKET_MIN = 15
WEEK_BUCKETS = 7 * 24 * 60 // BUCKET_MIN
DAY_BUCKETS = 24 * 60 // BUCKET_MIN
PROFILE_ERROR = 0.05


class UnknownTenant(KeyError):
    """The detector has no seasonal profile for this tenant: it was not in the training data."""


@dataclass(frozen=True)
class AnomalyResult:
    tenant: str
    minute: dt.datetime
    is_anomaly: bool
    anomaly_score: float  # (0, 1]; higher is more unusual
    #: the features furthest from the tenant's usual minute, most deviant first, e.g. ("plays -71%",)
    reasons: tuple[str, ...]


def _positions(minutes: np.ndarray, weekly: bool) -> np.ndarray:
    """Fractional bucket index of each minute (bucket b's centre is at b + 0.5)."""
    since_epoch = minutes.astype(np.int64)
    if weekly:  # weeks start Monday 00:00 UTC; 1970-01-01 was a Thursday
        return ((since_epoch + 3 * 1440) % (7 * 1440)) / BUCKET_MIN
    return (since_epoch % 1440) / BUCKET_MIN


@dataclass
class _Profile:
    weekly: bool
    medians: np.ndarray  # (buckets, len(DETECTOR_FEATURES))
    spread: np.ndarray  # (len(DETECTOR_FEATURES),): robust sd of the raw deviations in training

    def expected(self, minutes: np.ndarray) -> np.ndarray:
        """The profile at each minute, linear between bucket centres (no steps on a steep ramp)."""
        pos = _positions(minutes, self.weekly) - 0.5
        low = np.floor(pos).astype(np.int64)
        weight = (pos - low)[:, None]
        size = len(self.medians)
        return self.medians[low % size] * (1 - weight) + self.medians[(low + 1) % size] * weight


def _raw_deviations(values: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Counts: Poisson z with a 5% profile error allowance; p99: log ratio."""
    out = (values - expected) / np.sqrt(expected + (PROFILE_ERROR * expected) ** 2 + 1.0)
    p99 = DETECTOR_FEATURES.index("delivery_p99_ms")
    out[:, p99] = np.log1p(values[:, p99]) - np.log1p(expected[:, p99])
    return out


class AnomalyDetector:
    name = "anomaly_detector"

    def __init__(self, contamination: float = 0.01, n_estimators: int = 150, random_state: int = 0) -> None:
        if not 0 < contamination < 0.5:
            raise ValueError("contamination must be in (0, 0.5)")
        self.contamination = contamination
        self.n_estimators = n_estimators
        self.random_state = random_state
        self._profiles: dict[str, _Profile] = {}
        self._forest: IsolationForest | None = None

    def params(self) -> dict[str, Any]:
        return {"contamination": self.contamination, "n_estimators": self.n_estimators,
                "random_state": self.random_state, "features": list(DETECTOR_FEATURES),
                "bucket_minutes": BUCKET_MIN}

    @property
    def tenants(self) -> list[str]:
        return sorted(self._profiles)

    def fit(self, frame: MinuteFrame) -> AnomalyDetector:
        if len(frame) < 2 * DAY_BUCKETS:
            raise FeatureError(f"need at least {2 * DAY_BUCKETS} minutes of features to train the anomaly "
                               f"detector, got {len(frame)}")
        self._profiles = {t: self._profile(frame.of_tenant(t)) for t in frame.tenant_names()}
        self._forest = IsolationForest(n_estimators=self.n_estimators, contamination=self.contamination,
                                       random_state=self.random_state)
        self._forest.fit(self._deviations(frame))
        return self

    @staticmethod
    def _profile(own: MinuteFrame) -> _Profile:
        span_days = float((own.minutes.max() - own.minutes.min()).astype(np.int64)) / 1440
        weekly = span_days >= 7
        size = WEEK_BUCKETS if weekly else DAY_BUCKETS
        buckets = np.floor(_positions(own.minutes, weekly)).astype(np.int64)
        data = own.values[:, [MINUTE_COLUMNS.index(c) for c in DETECTOR_FEATURES]]
        order = np.argsort(buckets, kind="stable")
        bounds = np.searchsorted(buckets[order], np.arange(size + 1))
        data_sorted = data[order]
        medians = np.full((size, len(DETECTOR_FEATURES)), np.nan)
        for b in range(size):
            if bounds[b] < bounds[b + 1]:
                medians[b] = np.median(data_sorted[bounds[b]:bounds[b + 1]], axis=0)
        missing = np.isnan(medians[:, 0])
        if missing.any():  # a bucket never seen: the nearest seen bucket stands in (circularly)
            seen = np.flatnonzero(~missing)
            for b in np.flatnonzero(missing).tolist():
                dist = np.minimum(np.abs(seen - b), size - np.abs(seen - b))
                medians[b] = medians[seen[np.argmin(dist)]]
        profile = _Profile(weekly, medians, np.ones(len(DETECTOR_FEATURES)))
        raw = _raw_deviations(data, profile.expected(own.minutes))
        mad = np.median(np.abs(raw - np.median(raw, axis=0)), axis=0)
        # floors: a Poisson z of rare counts (errors ~0.5/min) has a MAD near 0, which would make
        # every single error look like a catastrophe
        floor = np.where(np.array(DETECTOR_FEATURES) == "delivery_p99_ms", 0.02, 0.7)
        profile.spread = np.maximum(1.4826 * mad, floor)
        return profile

    def _deviations(self, frame: MinuteFrame) -> np.ndarray:
        """Each row in robust noise units away from its tenant's usual minute, per detector feature."""
        cols = [MINUTE_COLUMNS.index(c) for c in DETECTOR_FEATURES]
        out = np.empty((len(frame), len(cols)))
        for tenant in {str(t) for t in frame.tenants}:
            profile = self._profiles.get(tenant)
            if profile is None:
                raise UnknownTenant(tenant)
            mask = frame.tenants == tenant
            out[mask] = _raw_deviations(frame.values[mask][:, cols], profile.expected(frame.minutes[mask]))
            out[mask] /= profile.spread
        return out

    def expected(self, tenant: str, minutes: np.ndarray) -> np.ndarray:
        """The usual value of each detector feature at these minutes (for charts and reasons)."""
        profile = self._profiles.get(tenant)
        if profile is None:
            raise UnknownTenant(tenant)
        return profile.expected(minutes)

    def score(self, frame: MinuteFrame) -> np.ndarray:
        """Anomaly score per row, in (0, 1]."""
        return -self._fitted().score_samples(self._deviations(frame))

    def predict(self, features: MinuteFrame | MinuteFeatures) -> list[AnomalyResult]:
        """Score minutes of tenants seen in training; raises UnknownTenant for any other tenant."""
        frame = MinuteFrame.from_rows([features]) if isinstance(features, MinuteFeatures) else features
        forest = self._fitted()
        if not len(frame):
            return []
        dev = self._deviations(frame)
        scores = -forest.score_samples(dev)
        flags = forest.predict(dev) == -1
        cols = [MINUTE_COLUMNS.index(c) for c in DETECTOR_FEATURES]
        expected = np.empty((len(frame), len(cols)))
        for tenant in {str(t) for t in frame.tenants}:
            mask = frame.tenants == tenant
            expected[mask] = self._profiles[tenant].expected(frame.minutes[mask])
        ratio = (frame.values[:, cols] + 1) / (expected + 1) - 1
        top = np.argsort(-np.abs(dev), axis=1)[:, :2]
        out = []
        for i in range(len(frame)):
            reasons = tuple(f"{DETECTOR_FEATURES[j]} {ratio[i, j] * 100:+.0f}%" for j in top[i]
                            if abs(dev[i, j]) > 3)
            out.append(AnomalyResult(str(frame.tenants[i]), to_datetime(frame.minutes[i]), bool(flags[i]),
                                     round(float(scores[i]), 4), reasons))
        return out

    def _fitted(self) -> IsolationForest:
        if self._forest is None:
            raise RuntimeError("the anomaly detector is not trained: call fit() first")
        return self._forest
