"""MetricsCollector: app, business and system metrics per tenant, into InfluxDB and the live channel.

Each metric is a measurement with field `value` and tags `tenant`, `kind` (app | business | system)
plus the caller's tags. The stream's own series (plays, errors, ...) are computed by the real-time
processor and cannot be written here; the sandbox has no payments, so business metrics (revenue,
conversion) come from whoever sends them — the traffic simulator does.
"""

from __future__ import annotations

import time
from typing import Any

from spotctl_sandbox.analytics.core.event_bus import EventBus
from spotctl_sandbox.analytics.processing.events import TENANT_RE
from spotctl_sandbox.analytics.processing.points import BREAKDOWNS
from spotctl_sandbox.analytics.processing.windows import SERIES
from spotctl_sandbox.analytics.storage.line_protocol import NAME_RE, Point
from spotctl_sandbox.analytics.storage.timeseries import TimeSeriesStorage

RESERVED = frozenset(SERIES) | frozenset(BREAKDOWNS)
RESERVED_TAGS = frozenset({"tenant", "kind", "window", "time"})
SYSTEM_TENANT = "system"
KINDS = ("app", "business", "system")
Metric = tuple[str, str, float, dict[str, str], str, "float | None"]  # tenant, name, value, tags, kind, epoch s


class MetricError(ValueError):
    """A metric the caller sent cannot be stored as it is (the message says why)."""


def check(tenant_id: str, metric_name: str, tags: dict[str, str]) -> None:
    if not TENANT_RE.match(tenant_id):
        raise MetricError(f"tenant {tenant_id!r}: 1-64 letters, digits, '_', '.' or '-'")
    if not NAME_RE.match(metric_name):
        raise MetricError(f"metric name {metric_name!r}: lower-case letters, digits and '_', starting with a letter")
    if metric_name in RESERVED:
        raise MetricError(f"{metric_name!r} is computed by the stream processor from the events; "
                          "pick another name")
    for key in tags:
        if not NAME_RE.match(key) or key in RESERVED_TAGS:
            raise MetricError(f"tag {key!r}: lower-case name, not one of {', '.join(sorted(RESERVED_TAGS))}")


class MetricsCollector:
    def __init__(self, time_series: TimeSeriesStorage, bus: EventBus) -> None:
        self.time_series = time_series
        self.bus = bus

    async def collect_metric(self, tenant_id: str, metric_name: str, value: float,
                             tags: dict[str, str] | None = None, *, kind: str = "app",
                             timestamp: float | None = None) -> dict[str, Any]:
        """The seed's call. Returns what was stored; raises MetricError or StorageUnavailable."""
        return (await self.collect_many([(tenant_id, metric_name, value, tags or {}, kind, timestamp)]))[0]

    async def collect_many(self, metrics: list[Metric]) -> list[dict[str, Any]]:
        now = time.time()
        points, stored = [], []
        for tenant_id, name, value, tags, kind, timestamp in metrics:
            check(tenant_id, name, tags)
            if kind not in KINDS:
                raise MetricError(f"kind must be one of {', '.join(KINDS)}")
            ts = now if timestamp is None else timestamp
            points.append(Point(name, {"value": float(value)}, {**tags, "tenant": tenant_id, "kind": kind}, ts))
            stored.append({"tenant": tenant_id, "metric": name, "value": float(value), "tags": tags, "kind": kind,
                           "ts": ts})
        await self.time_series.write_points(points)
        for item in stored:
            await self.bus.publish_update({"tenant": item["tenant"], "window": None, "start": item["ts"],
                                           "end": item["ts"], "final": True,
                                           "metrics": {item["metric"]: item["value"]}, "tags": item["tags"]})
        return stored

    async def collect_app_metrics(self, tenant_id: str, user_id: str, event_type: str,
                                  metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """An application event as a count of 1 in `app_events` (tag `event_type`; users are not tags)."""
        tags = {"event_type": event_type}
        tags.update({k: str(v) for k, v in (metadata or {}).items() if isinstance(v, str) and k != "user_id"})
        return await self.collect_metric(tenant_id, "app_events", 1.0, tags)

    async def collect_business_metrics(self, tenant_id: str, *, revenue: float | None = None,
                                       active_users: float | None = None,
                                       conversion_rate: float | None = None) -> list[dict[str, Any]]:
        named = {"revenue": revenue, "business_active_users": active_users, "conversion_rate": conversion_rate}
        batch: list[Metric] = [(tenant_id, k, float(v), {}, "business", None) for k, v in named.items()
                               if v is not None]
        return await self.collect_many(batch) if batch else []

    async def collect_system_metrics(self) -> list[dict[str, Any]]:
        """CPU, memory, disk and network of this host (psutil), under tenant `system`."""
        import psutil

        net = psutil.net_io_counters()
        values = {"system_cpu_percent": psutil.cpu_percent(interval=None),
                  "system_memory_percent": psutil.virtual_memory().percent,
                  "system_disk_percent": psutil.disk_usage("/").percent,
                  "system_net_bytes_sent": float(net.bytes_sent), "system_net_bytes_recv": float(net.bytes_recv)}
        batch: list[Metric] = [(SYSTEM_TENANT, k, v, {}, "system", None) for k, v in values.items()]
        return await self.collect_many(batch)
