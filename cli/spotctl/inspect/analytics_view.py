"""What the TUI's analytics screen shows, shaped from the analytics API's answers (pure: dicts in, data out).

One unit on the chart: the metric *per minute*. The stream's 1 min windows are summed per bucket and
divided by the bucket's minutes (a silent minute writes no window and counts as zero, as the forecaster
counts it); the forecast, per hour, is divided by 60 for plays (active users already are the hour's
mean minute). Anomalies are flagged minutes: each is marked on the bucket that holds it, at the
series' value there, so the mark sits on the line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

METRICS = ("plays", "active_users")  # the series the forecaster knows
MODEL_NAMES = ("anomaly_detector", "predictive_analytics", "behavior_analyzer")


@dataclass(frozen=True)
class Span:
    """How far back the chart looks, its bucket, and how far the forecast goes."""

    name: str
    since: str  # the API's start, e.g. -3h
    step_min: int
    horizon: str

    @property
    def step(self) -> str:
        return f"{self.step_min}m" if self.step_min < 60 else f"{self.step_min // 60}h"


SPANS = (Span("3 h", "-3h", 1, "3h"), Span("24 h", "-24h", 10, "12h"), Span("7 days", "-7d", 60, "24h"))


@dataclass(frozen=True)
class Chart:
    """The figure's data: times are epoch seconds (UTC), values per minute."""

    title: str
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    band_xs: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    marks_x: list[float] = field(default_factory=list)
    marks_y: list[float] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.xs and not self.band_xs


@dataclass(frozen=True)
class Overview:
    """The screen's whole state after one read; each part says why it is missing, if it is."""

    tenant: str
    metric: str
    span: Span
    chart: Chart
    anomalies: list[tuple[str, ...]]
    models: list[tuple[str, ...]]
    notes: list[str]


def when(value: str | float | dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None or value == "":
        return ""
    return _at(value).strftime(fmt)


def _at(value: str | float | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return _at(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))


def _series(answer: dict[str, Any] | None, step_min: int) -> tuple[list[float], list[float]]:
    """One tenant's metric per bucket as a per-minute rate (the first series: no group_by is asked)."""
    if not answer or not answer.get("series"):
        return [], []
    points = [(float(t), float(v or 0) / step_min) for t, v in answer["series"][0]["points"]]
    return [t for t, _ in points], [v for _, v in points]


def _band(answer: dict[str, Any] | None, metric: str) -> tuple[list[float], list[float], list[float], list[float]]:
    if not answer:
        return [], [], [], []
    per = 60.0 if metric == "plays" else 1.0  # hourly sums for plays; active users are the hour's mean minute
    points = answer.get("points", [])
    return ([_at(p["at"]).timestamp() for p in points], [p["value"] / per for p in points],
            [p["lower"] / per for p in points], [p["upper"] / per for p in points])


def _marks(xs: list[float], ys: list[float], step_min: int,
           anomalies: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Each flagged minute on the bucket holding it (anomalies outside the shown range are only listed)."""
    by_bucket = dict(zip(xs, ys, strict=True))
    step = step_min * 60
    marks: dict[float, float] = {}
    for a in anomalies:
        at = _at(a["minute"]).timestamp()
        bucket = at - at % step
        if bucket in by_bucket:
            marks[bucket] = by_bucket[bucket]
    return list(marks), list(marks.values())


def anomaly_rows(anomalies: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """minute, score, why, source, model version: what `spotctl analytics anomalies` prints."""
    return [(when(a["minute"]), f"{a['anomaly_score']:.3f}", ", ".join(a.get("reasons") or []) or "-",
             a.get("source", ""), f"v{a['model_version']}") for a in anomalies]


def _evaluation(metrics: dict[str, Any]) -> str:
    keys = ("precision", "recall", "silhouette", "k")
    parts = [f"{k} {metrics[k]}" for k in keys if k in metrics]
    plays = metrics.get("plays")
    if isinstance(plays, dict) and "model_mape" in plays:
        parts.append(f"MAPE {plays['model_mape']}% (naive {plays['seasonal_naive_mape']}%)")
    return "; ".join(parts)


def model_rows(models: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """One row per model: the live version (or how to train one), every version's number, its evaluation."""
    rows: list[tuple[str, ...]] = []
    for name in MODEL_NAMES:
        versions = [m for m in models if m["name"] == name]
        live = next((m for m in versions if m["status"] == "promoted"), None)
        if not versions:
            rows.append((name, "not trained", "", f"spotctl analytics train {name}", "", ""))
            continue
        numbers = ", ".join(f"v{m['version']}" for m in sorted(versions, key=lambda m: m["version"]))
        shown = live or versions[0]
        state = f"v{shown['version']} {shown['status']}" if live else "none promoted"
        tenants = ", ".join(shown.get("tenants") or [])
        rows.append((name, state, numbers, _evaluation(shown.get("metrics") or {}), when(shown["created_at"]),
                     tenants or "listeners"))
    return rows


def overview(tenant: str, metric: str, span: Span, answers: dict[str, Any]) -> Overview:
    """Shape the API's answers (`series`, `forecast`, `anomalies`, `models`, and `<part>_error` for a part
    the API refused) into the chart, the two tables and the notes under the chart."""
    notes: list[str] = []
    xs, ys = _series(answers.get("series"), span.step_min)
    if answers.get("series_error"):
        notes.append(f"no series: {answers['series_error']}")
    elif not xs:
        notes.append(f"no {metric} for tenant {tenant} in the last {span.name} yet")
    band_xs, value, lower, upper = _band(answers.get("forecast"), metric)
    if answers.get("forecast_error"):
        notes.append(f"no forecast band: {answers['forecast_error']}")
    anomalies = answers.get("anomalies") or []
    if answers.get("anomalies_error"):
        notes.append(f"no anomalies: {answers['anomalies_error']}")
    marks_x, marks_y = _marks(xs, ys, span.step_min, anomalies)
    confidence = (answers.get("forecast") or {}).get("confidence")
    band = f" · next {span.horizon[:-1]} h forecast, ··· {confidence:.0%} band" if band_xs and confidence else ""
    title = f"{metric} per minute, last {span.name}{band}" + (" · x anomaly" if marks_x else "")
    chart = Chart(title, xs, ys, band_xs, value, lower, upper, marks_x, marks_y)
    models = model_rows(answers.get("models") or [])
    if answers.get("models_error"):
        notes.append(f"no model registry: {answers['models_error']}")
    return Overview(tenant, metric, span, chart, anomaly_rows(anomalies), models, notes)
