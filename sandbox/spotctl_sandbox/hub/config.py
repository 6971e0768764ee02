"""Hub settings: the shared `Settings` plus the hub's own knobs, all from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from ..common.env import Env
from ..common.settings import Settings


@dataclass(frozen=True)
class HubConfig:
    settings: Settings
    host: str = "0.0.0.0"
    port: int = 8765
    metrics_port: int = 9765
    workers: int = 2
    max_frame_bytes: int = 64 * 1024
    auth_timeout_s: float = 10.0
    conn_rate: float = 20.0  # messages/s per connection (token bucket) ...
    conn_burst: float = 40.0  # ... with this burst
    user_rate: str = "50/second"  # per user across connections and workers (Redis)
    max_strikes: int = 20  # rejected messages within 10 s before the connection is closed
    low_batch_interval_s: float = 2.0
    send_buffer_soft: int = 256 * 1024  # above: shed LOW/NORMAL frames for this connection
    send_buffer_hard: int = 4 * 1024 * 1024  # above: close the slow consumer
    send_buffer_grace_s: float = 1.0  # over the soft limit this long (not draining): shed
    shutdown_grace_s: float = 5.0
    activity_interval_s: float = 5.0  # hub_activity events on Kafka every this often (0: none)
    dependency_timeout_s: float = 1.5  # a Redis or PostgreSQL call answers within this, or `unavailable`

    @classmethod
    def from_env(cls, env: Env | None = None) -> HubConfig:
        e = env or Env()
        s = Settings.from_env(e)
        d = cls(settings=s)
        return cls(
            settings=s,
            host=e.text("HUB_HOST", s.bind_host),
            port=s.port or d.port,
            metrics_port=e.port("METRICS_PORT", d.metrics_port),
            workers=max(1, s.hub_workers),
            max_frame_bytes=e.integer("HUB_MAX_FRAME_BYTES", d.max_frame_bytes, minimum=1),
            auth_timeout_s=e.number("HUB_AUTH_TIMEOUT", d.auth_timeout_s, minimum=0),
            conn_rate=e.number("HUB_CONN_RATE", d.conn_rate, minimum=0),
            conn_burst=e.number("HUB_CONN_BURST", d.conn_burst, minimum=0),
            user_rate=e.text("HUB_USER_RATE", d.user_rate),
            max_strikes=e.integer("HUB_MAX_STRIKES", d.max_strikes, minimum=1),
            low_batch_interval_s=e.number("HUB_LOW_BATCH_INTERVAL", d.low_batch_interval_s, minimum=0),
            send_buffer_soft=e.integer("HUB_SEND_BUFFER_SOFT", d.send_buffer_soft, minimum=0),
            send_buffer_hard=e.integer("HUB_SEND_BUFFER_HARD", d.send_buffer_hard, minimum=0),
            send_buffer_grace_s=e.number("HUB_SEND_BUFFER_GRACE", d.send_buffer_grace_s, minimum=0),
            shutdown_grace_s=e.number("HUB_SHUTDOWN_GRACE", d.shutdown_grace_s, minimum=0),
            activity_interval_s=e.number("HUB_ACTIVITY_INTERVAL", d.activity_interval_s, minimum=0),
            dependency_timeout_s=e.number("HUB_DEPENDENCY_TIMEOUT_S", d.dependency_timeout_s, minimum=0.1),
        )
