"""BehaviorAnalyzer: K-Means user segments on listening features, judged by the silhouette score.

Counts are log-scaled (a 300-play week is not 25 times as different from a 12-play week as a night
owl is from a day listener) and every column standardised, so no feature wins by its unit. With no
k given, k = 2..6 are tried and the best silhouette kept. Each segment gets a readable label from
the feature its centre stands out on most ("night owls", "heavy listeners", ...). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from spotctl_sandbox.analytics.ml.features import USER_COLUMNS, FeatureError, UserFrame

LOG_COLUMNS = ("plays_7d", "distinct_songs_7d", "distinct_artists_7d", "avg_plays_per_day")
K_RANGE = range(2, 7)
SILHOUETTE_SAMPLE = 3000  # silhouette is O(n^2): score a fixed-seed sample of larger populations
# (feature, direction) -> label; the first match by the centre's largest standardised deviation wins
LABELS = {
    ("plays_7d", 1): "heavy listeners", ("plays_7d", -1): "casual listeners",
    ("avg_plays_per_day", 1): "heavy listeners", ("avg_plays_per_day", -1): "casual listeners",
    ("night_share", 1): "night owls", ("night_share", -1): "daytime listeners",
    ("weekend_share", 1): "weekend listeners", ("weekend_share", -1): "weekday listeners",
    ("distinct_artists_7d", 1): "explorers", ("distinct_artists_7d", -1): "loyal fans",
    ("distinct_songs_7d", 1): "explorers", ("distinct_songs_7d", -1): "repeat listeners",
}


@dataclass(frozen=True)
class Segment:
    segment: int
    label: str
    size: int
    centre: dict[str, float]  # in the features' own units


@dataclass(frozen=True)
class Assignment:
    tenant: str
    user_id: int
    segment: int
    label: str


class BehaviorAnalyzer:
    name = "behavior_analyzer"

    def __init__(self, k: int | None = None, random_state: int = 0) -> None:
        if k is not None and not 2 <= k <= 20:
            raise ValueError("k must be between 2 and 20")
        self.k = k
        self.random_state = random_state
        self._scaler: StandardScaler | None = None
        self._kmeans: KMeans | None = None
        self.silhouette: float | None = None
        self.segments: tuple[Segment, ...] = ()
        self.tried: dict[int, float] = {}  # k -> silhouette, when k was chosen automatically

    def params(self) -> dict[str, Any]:
        return {"k": self.k if self.k is not None else "auto", "random_state": self.random_state,
                "features": list(USER_COLUMNS)}

    @staticmethod
    def _transform(values: np.ndarray) -> np.ndarray:
        out = values.copy()
        for name in LOG_COLUMNS:
            j = USER_COLUMNS.index(name)
            out[:, j] = np.log1p(out[:, j])
        return out

    def fit(self, users: UserFrame) -> BehaviorAnalyzer:
        smallest = self.k or min(K_RANGE)
        if len(users) < max(10, 3 * smallest):
            raise FeatureError(f"need at least {max(10, 3 * smallest)} users with features to segment, got "
                               f"{len(users)}")
        self._scaler = StandardScaler().fit(self._transform(users.values))
        x = self._scaler.transform(self._transform(users.values))
        candidates = [self.k] if self.k else [k for k in K_RANGE if k < len(users)]
        best: tuple[float, KMeans] | None = None
        for k in candidates:
            model = KMeans(n_clusters=k, n_init=4, random_state=self.random_state).fit(x)
            score = self._silhouette(x, model.labels_)
            self.tried[k] = round(score, 4)
            if best is None or score > best[0]:
                best = (score, model)
        assert best is not None
        self.silhouette, self._kmeans = round(best[0], 4), best[1]
        self.segments = self._describe(users, best[1])
        return self

    def _silhouette(self, x: np.ndarray, labels: np.ndarray) -> float:
        if len(set(labels.tolist())) < 2:
            return -1.0
        sample = min(len(x), SILHOUETTE_SAMPLE)
        return float(silhouette_score(x, labels, sample_size=sample if sample < len(x) else None,
                                      random_state=self.random_state))

    def _describe(self, users: UserFrame, model: KMeans) -> tuple[Segment, ...]:
        assert self._scaler is not None
        centres = model.cluster_centers_
        taken: dict[str, int] = {}
        out = []
        for seg in range(len(centres)):
            members = users.values[model.labels_ == seg]
            order = np.argsort(-np.abs(centres[seg]))
            label = "typical listeners"
            for j in order:
                candidate = LABELS.get((USER_COLUMNS[j], 1 if centres[seg, j] > 0 else -1))
                if candidate and candidate not in taken:
                    label = candidate
                    break
            taken[label] = taken.get(label, 0) + 1
            if taken[label] > 1:
                label = f"{label} {taken[label]}"
            centre = {c: round(float(v), 3) for c, v in zip(USER_COLUMNS, members.mean(axis=0), strict=True)}
            out.append(Segment(seg, label, int(len(members)), centre))
        return tuple(out)

    def predict(self, users: UserFrame) -> list[Assignment]:
        if self._kmeans is None or self._scaler is None:
            raise RuntimeError("the behaviour analyzer is not trained: call fit() first")
        if not len(users):
            return []
        labels = self._kmeans.predict(self._scaler.transform(self._transform(users.values)))
        names = {s.segment: s.label for s in self.segments}
        return [Assignment(str(t), int(u), int(seg), names[int(seg)])
                for t, u, seg in zip(users.tenants, users.user_ids, labels, strict=True)]
