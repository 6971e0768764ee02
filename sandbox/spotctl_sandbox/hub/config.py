"""Hub settings: the shared `Settings` plus the hub's own knobs, all from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..common.settings import Settings


def _num(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise SystemExit(f"hub: {name} must be a number, got {raw!r}") from None


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

    @classmethod
    def from_env(cls) -> HubConfig:
        s = Settings.from_env()
        d = cls(settings=s)
        return cls(
            settings=s,
            host=os.environ.get("HUB_HOST", d.host),
            port=s.port or d.port,
            metrics_port=int(_num("METRICS_PORT", d.metrics_port)),
            workers=max(1, s.hub_workers),
            max_frame_bytes=int(_num("HUB_MAX_FRAME_BYTES", d.max_frame_bytes)),
            auth_timeout_s=_num("HUB_AUTH_TIMEOUT", d.auth_timeout_s),
            conn_rate=_num("HUB_CONN_RATE", d.conn_rate),
            conn_burst=_num("HUB_CONN_BURST", d.conn_burst),
            user_rate=os.environ.get("HUB_USER_RATE", d.user_rate),
            max_strikes=int(_num("HUB_MAX_STRIKES", d.max_strikes)),
            low_batch_interval_s=_num("HUB_LOW_BATCH_INTERVAL", d.low_batch_interval_s),
            send_buffer_soft=int(_num("HUB_SEND_BUFFER_SOFT", d.send_buffer_soft)),
            send_buffer_hard=int(_num("HUB_SEND_BUFFER_HARD", d.send_buffer_hard)),
            send_buffer_grace_s=_num("HUB_SEND_BUFFER_GRACE", d.send_buffer_grace_s),
            shutdown_grace_s=_num("HUB_SHUTDOWN_GRACE", d.shutdown_grace_s),
        )
