"""Service settings, read from the environment the compose file defines.

Both runtimes fill the same variables (the local one rewrites host names to 127.0.0.1), so a service
never needs to know which runtime started it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = "postgresql://spotify:spotify@127.0.0.1:5432/spotify"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    mongo_url: str | None = None
    smtp_url: str = "smtp://127.0.0.1:8025"
    push_webhook_url: str = "http://127.0.0.1:8026/push"
    api_url: str = "http://127.0.0.1:8000"
    hub_url: str = "ws://127.0.0.1:8765/ws"
    jwt_secret: str = "dev-only-jwt-secret-change-me-in-production"
    media_dir: Path = field(default_factory=lambda: Path("media"))
    reports_dir: Path = field(default_factory=lambda: Path("reports"))
    port: int = 0
    hub_workers: int = 2
    max_ws_connections_per_user: int = 5
    ws_heartbeat_interval: float = 30.0

    @classmethod
    def from_env(cls) -> Settings:
        d = cls()
        return cls(
            redis_url=_env("REDIS_URL", d.redis_url),
            database_url=_env("DATABASE_URL", d.database_url),
            amqp_url=_env("AMQP_URL", d.amqp_url),
            kafka_bootstrap_servers=_env("KAFKA_BOOTSTRAP_SERVERS", d.kafka_bootstrap_servers),
            mongo_url=os.environ.get("MONGO_URL") or None,
            smtp_url=_env("SMTP_URL", d.smtp_url),
            push_webhook_url=_env("PUSH_WEBHOOK_URL", d.push_webhook_url),
            api_url=_env("API_URL", d.api_url),
            hub_url=_env("HUB_URL", d.hub_url),
            jwt_secret=_env("JWT_SECRET", d.jwt_secret),
            media_dir=Path(_env("MEDIA_DIR", str(d.media_dir))),
            reports_dir=Path(_env("REPORTS_DIR", str(d.reports_dir))),
            port=int(_env("PORT", "0")),
            hub_workers=int(_env("HUB_WORKERS", str(d.hub_workers))),
            max_ws_connections_per_user=int(
                _env("MAX_WS_CONNECTIONS_PER_USER", str(d.max_ws_connections_per_user))
            ),
            ws_heartbeat_interval=float(_env("WS_HEARTBEAT_INTERVAL", str(d.ws_heartbeat_interval))),
        )
