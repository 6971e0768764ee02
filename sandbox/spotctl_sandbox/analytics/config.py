"""The analytics service's settings: the stack's shared ones plus its own, all from the environment
the compose file defines (`analytics` service)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from spotctl_sandbox.common.settings import Settings


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


@dataclass(frozen=True)
class AnalyticsConfig:
    settings: Settings = field(default_factory=Settings)
    influxdb_url: str = "http://127.0.0.1:8086"
    influxdb_db: str = "analytics"
    elasticsearch_url: str | None = None
    hub_metrics_url: str | None = None
    consumer_group: str = "analytics-engine"
    consumer_mode: str = "group"          # group (subscribe) | assign (every partition, no group wait)
    lateness_s: float = 10.0
    idle_s: float = 5.0
    checkpoint_interval_s: float = 5.0
    live_interval_s: float = 2.0
    spill_max_points: int = 200_000
    store_events: str = "all"             # all | exceptions (late, duplicate, malformed only)
    rate_limit: str = "600/minute"
    schedule_jobs: bool = True

    @classmethod
    def from_env(cls) -> AnalyticsConfig:
        d = cls()
        mode = _env("ANALYTICS_CONSUMER_MODE", d.consumer_mode)
        if mode not in ("group", "assign"):
            raise ValueError(f"ANALYTICS_CONSUMER_MODE must be group or assign, not {mode!r}")
        store = _env("ANALYTICS_STORE_EVENTS", d.store_events)
        if store not in ("all", "exceptions"):
            raise ValueError(f"ANALYTICS_STORE_EVENTS must be all or exceptions, not {store!r}")
        return cls(
            settings=Settings.from_env(),
            influxdb_url=_env("INFLUXDB_URL", d.influxdb_url),
            influxdb_db=_env("INFLUXDB_DB", d.influxdb_db),
            elasticsearch_url=os.environ.get("ELASTICSEARCH_URL") or None,
            hub_metrics_url=os.environ.get("HUB_METRICS_URL") or None,
            consumer_group=_env("ANALYTICS_GROUP", d.consumer_group),
            consumer_mode=mode,
            lateness_s=float(_env("ANALYTICS_LATENESS_S", str(d.lateness_s))),
            idle_s=float(_env("ANALYTICS_IDLE_S", str(d.idle_s))),
            checkpoint_interval_s=float(_env("ANALYTICS_CHECKPOINT_S", str(d.checkpoint_interval_s))),
            live_interval_s=float(_env("ANALYTICS_LIVE_S", str(d.live_interval_s))),
            spill_max_points=int(_env("ANALYTICS_SPILL_MAX", str(d.spill_max_points))),
            store_events=store,
            rate_limit=_env("ANALYTICS_RATE_LIMIT", d.rate_limit),
            schedule_jobs=_env("ANALYTICS_SCHEDULE_JOBS", "1") != "0",
        )
