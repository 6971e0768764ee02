"""Prometheus results as `spotctl metrics` and the TUI show them (pure: no I/O)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

BLOCKS = "▁▂▃▄▅▆▇█"
MAX_POINTS = 120  # per series in a range query: a terminal line, not a chart



@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]  # (unix time, value)


def series_name(labels: Mapping[str, str]) -> str:
    """`name{a="1",b="2"}` as Prometheus writes it ("{}" for an unnamed result, e.g. a sum)."""
    name = labels.get("__name__", "")
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}" if rest or not name else name


def number(value: float) -> str:
    """Short and exact enough for a table: 0.0123, 1234, 1.2e+09, NaN."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def finite_or_none(value: float) -> float | None:
    """JSON has no NaN or Inf: scripts get null there."""
    return value if math.isfinite(value) else None


def sparkline(values: Sequence[float], width: int = 40) -> str:
    """Block characters scaled between the series' min and max (a flat series is a middle line); a gap
    where there is no number. Squeezed to `width` by keeping each bucket's most unusual value, so a
    short dip or spike still shows."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return " " * min(len(values), width)
    low, high, mean = min(finite), max(finite), sum(finite) / len(finite)
    if len(values) > width:
        buckets = [values[len(values) * i // width: len(values) * (i + 1) // width] for i in range(width)]
        values = [max((v for v in b if math.isfinite(v)), key=lambda v: abs(v - mean), default=math.nan)
                  for b in buckets]
    top = len(BLOCKS) - 1
    return "".join(" " if not math.isfinite(v) else BLOCKS[top // 2 if high == low else
                                                              round((v - low) / (high - low) * top)]
                   for v in values)


def step_for(range_s: float, points: int = MAX_POINTS) -> float:
    """A step giving about `points` points over the range, at least a second."""
    return max(1.0, math.ceil(range_s / points))


#: The series the TUI's Metrics screen draws: (what, PromQL, unit). The test suite parses each with promtool.
KEY_SERIES: tuple[tuple[str, str, str], ...] = (
    ("API requests/s", "sum(rate(spotctl_api_requests_total[1m]))", "/s"),
    ("API 5xx ratio", 'sum(rate(spotctl_api_requests_total{status=~"5.."}[5m])) / '
                      "sum(rate(spotctl_api_requests_total[5m]))", "ratio"),
    ("API p99 latency", "histogram_quantile(0.99, sum by (le) (rate(spotctl_api_request_seconds_bucket[5m])))", "s"),
    ("cache hit ratio", 'sum(rate(spotctl_api_cache_total{result="hit"}[5m])) / '
                        "sum(rate(spotctl_api_cache_total[5m]))", "ratio"),
    ("hub connections", "sum(hub_connections)", ""),
    ("hub frames out/s", "sum(rate(hub_messages_out_total[1m]))", "/s"),
    ("hub delivery p99", "histogram_quantile(0.99, sum by (le) (rate(hub_delivery_latency_seconds_bucket[5m])))", "s"),
    ("BullMQ waiting", 'sum(bullmq_queue_jobs{state=~"waiting|prioritized|delayed"})', ""),
    ("BullMQ failed", 'sum(bullmq_queue_jobs{state="failed"})', ""),
    ("RabbitMQ ready", "sum(rabbitmq_queue_messages_ready)", ""),
    ("dead letters", 'sum(rabbitmq_queue_messages{queue=~".+\\\\.dlq"})', ""),
    ("Kafka lag", "sum(kafka_consumergroup_lag)", ""),
    ("Redis memory", "sum(redis_memory_used_bytes)", "bytes"),
    ("PostgreSQL backends", "sum(pg_stat_database_numbackends)", ""),
    ("host CPU busy", '1 - avg(rate(node_cpu_seconds_total{mode="idle"}[1m]))', "ratio"),
    ("host memory used", "1 - sum(node_memory_MemAvailable_bytes) / sum(node_memory_MemTotal_bytes)", "ratio"),
)


def with_unit(value: float, unit: str) -> str:
    """A value as a person reads it: 12.5%, 3.2 ms, 1.4 GiB, 240/s."""
    if not math.isfinite(value):
        return "-"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "bytes":
        size = value
        for suffix in ("B", "KiB", "MiB", "GiB"):
            if size < 1024 or suffix == "GiB":
                return f"{size:.0f} {suffix}" if suffix == "B" else f"{size:.1f} {suffix}"
            size /= 1024
    return f"{number(round(value, 2))}{unit}"
