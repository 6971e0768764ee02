"""Connection URLs for clients on this host: flags > environment > the stack's compose file.

Every inspector, the seed command and the tests take their URLs from here, so `spotctl config`
shows exactly what they will dial.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

KEYS = (
    "REDIS_URL", "DATABASE_URL", "AMQP_URL", "RABBITMQ_MGMT_URL", "KAFKA_BOOTSTRAP_SERVERS", "MONGO_URL",
    "API_URL", "HUB_URL", "HUB_METRICS_URL", "WORKERS_URL", "SMTP_URL", "PUSH_WEBHOOK_URL", "GATEWAY_URL",
    "JWT_SECRET", "MEDIA_DIR", "REPORTS_DIR",
)

SERVICE_OF = {  # which compose service answers each URL (for `spotctl up SERVICE` hints)
    "REDIS_URL": "redis", "DATABASE_URL": "postgres", "AMQP_URL": "rabbitmq", "RABBITMQ_MGMT_URL": "rabbitmq",
    "KAFKA_BOOTSTRAP_SERVERS": "kafka", "MONGO_URL": "mongo", "API_URL": "api", "HUB_URL": "hub",
    "HUB_METRICS_URL": "hub", "WORKERS_URL": "workers", "SMTP_URL": "workers", "PUSH_WEBHOOK_URL": "workers",
    "GATEWAY_URL": "gateway",
}


def service_of(key: str) -> str:
    """The compose service that answers `key` (for `spotctl up SERVICE` hints); the key itself if none."""
    return SERVICE_OF.get(key, key)


class _Url:
    """A typed attribute of Endpoints read from its env mapping ("" when unset)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __get__(self, obj: Endpoints, owner: type | None = None) -> str:
        return obj.env.get(self.key, "")


@dataclass(frozen=True)
class Endpoints:
    env: Mapping[str, str]

    redis_url = _Url("REDIS_URL")
    database_url = _Url("DATABASE_URL")
    amqp_url = _Url("AMQP_URL")
    rabbitmq_mgmt_url = _Url("RABBITMQ_MGMT_URL")
    kafka_bootstrap_servers = _Url("KAFKA_BOOTSTRAP_SERVERS")
    api_url = _Url("API_URL")
    hub_url = _Url("HUB_URL")
    hub_metrics_url = _Url("HUB_METRICS_URL")
    workers_url = _Url("WORKERS_URL")
    jwt_secret = _Url("JWT_SECRET")

    @property
    def mongo_url(self) -> str | None:
        """None when no MongoDB answers: the stack then runs its documented fallback."""
        return self.env.get("MONGO_URL") or None

    @property
    def media_dir(self) -> Path:
        return Path(self.env.get("MEDIA_DIR", ""))

    @property
    def reports_dir(self) -> Path:
        return Path(self.env.get("REPORTS_DIR", ""))


def port_open(url: str, default_port: int = 0, timeout: float = 0.3) -> bool:
    parts = urlsplit(url if "//" in url else f"tcp://{url.split(',')[0]}")
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout):
            return True
    except OSError:
        return False


def resolve(overrides: Mapping[str, str | None] | None = None) -> Endpoints:
    from spotctl import project
    from spotctl.stack import compose, plan

    proj = project.current()
    view = plan.client_view(compose.load(proj.compose_file), proj)
    env = dict(view.env)
    for key in KEYS:
        if os.environ.get(key):
            env[key] = os.environ[key]
    if not os.environ.get("MONGO_URL") and env.get("MONGO_URL") and not port_open(env["MONGO_URL"], 27017):
        env.pop("MONGO_URL")  # absent, never faked
    for key, value in (overrides or {}).items():
        if value:
            env[key] = value
    return Endpoints(env=env)
