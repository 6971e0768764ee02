"""Service settings, read from the environment the compose file defines.

Both runtimes fill the same variables (the local one rewrites host names to 127.0.0.1), so a service
never needs to know which runtime started it. A value that cannot be used raises `EnvError` naming
the variable (`common/env.py`); each service's entry point makes that one line and exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from spotctl_sandbox.common import redisconn
from spotctl_sandbox.common.env import Env, EnvError

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-in-production"
DEVELOPMENT = "development"


class InsecureSettings(Exception):
    """A service refuses to start with these settings; the message says what to change."""


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    # REDIS_CLUSTER_URL: a Redis Cluster (redis+cluster://host:port,...) for the parts that run on one —
    # the API, the hub and the workers (`cluster_or_redis_url`); the others keep REDIS_URL
    redis_cluster_url: str | None = None
    database_url: str = "postgresql://spotify:spotify@127.0.0.1:5432/spotify"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    mongo_url: str | None = None
    smtp_url: str = "smtp://127.0.0.1:8025"
    push_webhook_url: str = "http://127.0.0.1:8026/push"
    api_url: str = "http://127.0.0.1:8000"
    hub_url: str = "ws://127.0.0.1:8765/ws"
    jwt_secret: str = DEV_JWT_SECRET
    # SPOTCTL_ENV: "development" (what compose sets for `spotctl up`) or anything else, which is
    # treated as production. Unset means production, so a forgotten setting fails closed.
    mode: str = "production"
    # BIND_HOST: the address servers listen on. Loopback unless configured otherwise: compose sets
    # 0.0.0.0 (containers must accept the gateway), the local runtime rewrites it to 127.0.0.1.
    bind_host: str = "127.0.0.1"
    media_dir: Path = field(default_factory=lambda: Path("media"))
    reports_dir: Path = field(default_factory=lambda: Path("reports"))
    port: int = 0
    hub_workers: int = 2
    max_ws_connections_per_user: int = 5
    ws_heartbeat_interval: float = 30.0

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        e, d = env or Env(), cls()
        return cls(
            redis_url=_checked("REDIS_URL", e.text("REDIS_URL", d.redis_url)),
            redis_cluster_url=_checked("REDIS_CLUSTER_URL", e.optional("REDIS_CLUSTER_URL") or "") or None,
            database_url=e.text("DATABASE_URL", d.database_url),
            amqp_url=e.text("AMQP_URL", d.amqp_url),
            kafka_bootstrap_servers=e.text("KAFKA_BOOTSTRAP_SERVERS", d.kafka_bootstrap_servers),
            mongo_url=e.optional("MONGO_URL"),
            smtp_url=e.text("SMTP_URL", d.smtp_url),
            push_webhook_url=e.text("PUSH_WEBHOOK_URL", d.push_webhook_url),
            api_url=e.text("API_URL", d.api_url),
            hub_url=e.text("HUB_URL", d.hub_url),
            jwt_secret=e.text("JWT_SECRET", d.jwt_secret),
            mode=e.text("SPOTCTL_ENV", d.mode),
            bind_host=e.text("BIND_HOST", d.bind_host),
            media_dir=e.path("MEDIA_DIR", d.media_dir),
            reports_dir=e.path("REPORTS_DIR", d.reports_dir),
            port=e.port("PORT", 0),
            hub_workers=e.integer("HUB_WORKERS", d.hub_workers, minimum=1),
            max_ws_connections_per_user=e.integer("MAX_WS_CONNECTIONS_PER_USER", d.max_ws_connections_per_user,
                                                  minimum=1),
            ws_heartbeat_interval=e.number("WS_HEARTBEAT_INTERVAL", d.ws_heartbeat_interval, minimum=0),
        )

    @property
    def cluster_or_redis_url(self) -> str:
        """Where the API, the hub and the workers keep their Redis data: the cluster when one is set."""
        return cluster_or_redis(self.redis_url, self.redis_cluster_url)


def cluster_or_redis(redis_url: str, redis_cluster_url: str | None) -> str:
    """The rule of `Settings.cluster_or_redis_url`, for whoever must dial the same Redis from outside
    (the CLI's redis, jobs and hub tools): REDIS_CLUSTER_URL when set and not empty, else REDIS_URL."""
    return redis_cluster_url or redis_url


def refuse_insecure(settings: Settings) -> None:
    """Raise InsecureSettings outside development mode when the JWT secret is the published
    development one (anyone could mint tokens) or too short to resist guessing. Services call this
    before they listen."""
    if settings.mode == DEVELOPMENT:
        return
    if settings.jwt_secret == DEV_JWT_SECRET:
        raise InsecureSettings(f"JWT_SECRET is the development secret but SPOTCTL_ENV is {settings.mode!r}: "
                               "set JWT_SECRET to a random value (e.g. `python -c 'import secrets; "
                               "print(secrets.token_urlsafe(32))'`), or SPOTCTL_ENV=development on a "
                               "developer machine")
    if len(settings.jwt_secret) < 32:
        raise InsecureSettings("JWT_SECRET is shorter than 32 characters: use a random value of 32 or more")


def _checked(name: str, url: str) -> str:
    """A cluster URL (redis+cluster://...) that cannot be used is an EnvError naming its variable."""
    if redisconn.is_cluster_url(url):
        try:
            redisconn.parse_cluster(url)
        except ValueError as exc:
            raise EnvError(name, url, f"a cluster URL: {exc}") from None
    return url
