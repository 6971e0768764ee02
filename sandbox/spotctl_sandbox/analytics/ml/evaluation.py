"""Scores of the models against ground truth: detection precision/recall, forecast error (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DetectionScore:
    """Minute-level precision/recall, and incident-level figures (consecutive flagged minutes = one alert)."""

    precision: float
    recall: float
    f1: float
    incident_precision: float  # flagged runs that touch a true anomaly
    incident_recall: float  # true anomalies with at least one flagged minute
    flagged_minutes: int
    anomalous_minutes: int

    def as_dict(self) -> dict[str, float | int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def detection_score(flags: np.ndarray, truth: np.ndarray, groups: np.ndarray | None = None) -> DetectionScore:
    """`flags` and `truth` per minute, in time order within each group (e.g. tenant)."""
    flags, truth = np.asarray(flags, dtype=bool), np.asarray(truth, dtype=bool)
    if flags.shape != truth.shape:
        raise ValueError("flags and truth must have the same length")
    tp = int((flags & truth).sum())
    precision = tp / flags.sum() if flags.any() else 0.0
    recall = tp / truth.sum() if truth.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    hit_runs = flagged_runs = true_runs = caught = 0
    for g in (np.unique(groups) if groups is not None else [None]):
        mask = np.ones(len(flags), dtype=bool) if g is None else groups == g
        f, t = flags[mask], truth[mask]
        for s, e in _runs(f):
            flagged_runs += 1
            hit_runs += bool(t[s:e].any())
        for s, e in _runs(t):
            true_runs += 1
            caught += bool(f[s:e].any())
    return DetectionScore(round(float(precision), 4), round(float(recall), 4), round(float(f1), 4),
                          round(hit_runs / flagged_runs, 4) if flagged_runs else 0.0,
                          round(caught / true_runs, 4) if true_runs else 0.0, int(flags.sum()), int(truth.sum()))


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error over the hours with traffic (a zero hour has no percentage)."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    nonzero = actual > 0
    if not nonzero.any():
        raise ValueError("MAPE needs at least one non-zero actual value")
    return float(np.mean(np.abs(actual[nonzero] - predicted[nonzero]) / actual[nonzero]) * 100)
