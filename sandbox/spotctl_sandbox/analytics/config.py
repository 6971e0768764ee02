"""The analytics service's settings: the stack's shared ones plus its own, all from the environment
the compose file defines (`analytics` service)."""

from __future__ import annotations

from dataclasses import dataclass, field

from spotctl_sandbox.common.env import Env, EnvError
from spotctl_sandbox.common.settings import Settings


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
    def from_env(cls, env: Env | None = None) -> AnalyticsConfig:
        """Raises EnvError naming the variable when a value cannot be used."""
        env = env or Env()
        d = cls()
        mode = env.text("ANALYTICS_CONSUMER_MODE", d.consumer_mode)
        if mode not in ("group", "assign"):
            raise EnvError("ANALYTICS_CONSUMER_MODE", mode, "group or assign")
        store = env.text("ANALYTICS_STORE_EVENTS", d.store_events)
        if store not in ("all", "exceptions"):
            raise EnvError("ANALYTICS_STORE_EVENTS", store, "all or exceptions")
        return cls(
            settings=Settings.from_env(),
            influxdb_url=env.text("INFLUXDB_URL", d.influxdb_url),
            influxdb_db=env.text("INFLUXDB_DB", d.influxdb_db),
            elasticsearch_url=env.optional("ELASTICSEARCH_URL"),
            hub_metrics_url=env.optional("HUB_METRICS_URL"),
            consumer_group=env.text("ANALYTICS_GROUP", d.consumer_group),
            consumer_mode=mode,
            lateness_s=env.number("ANALYTICS_LATENESS_S", d.lateness_s, minimum=0),
            idle_s=env.number("ANALYTICS_IDLE_S", d.idle_s, minimum=0),
            checkpoint_interval_s=env.number("ANALYTICS_CHECKPOINT_S", d.checkpoint_interval_s, minimum=0.1),
            live_interval_s=env.number("ANALYTICS_LIVE_S", d.live_interval_s, minimum=0.1),
            spill_max_points=env.integer("ANALYTICS_SPILL_MAX", d.spill_max_points, minimum=0),
            store_events=store,
            rate_limit=env.text("ANALYTICS_RATE_LIMIT", d.rate_limit),
            schedule_jobs=env.text("ANALYTICS_SCHEDULE_JOBS", "1") != "0",
        )
