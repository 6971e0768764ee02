"""Connection URLs for clients on this host: flags > environment > the stack's compose file.

Every client, the seed command and the tests take their URLs from here, so `spotctl config` shows
exactly what they will dial. Which URLs there are, and which service answers each, comes from the
compose file too (`spotctl.stack.plan.client_view`): a service added there is dialled without an
edit here.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from spotctl.errors import SpotctlError

if TYPE_CHECKING:
    from spotctl.stack.compose import Service
    from spotctl_sandbox.common.env import Env


class _Url:
    """A typed attribute of Endpoints read from its env mapping ("" when unset)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __get__(self, obj: Endpoints, owner: type | None = None) -> str:
        return obj.env.get(self.key, "")


@dataclass(frozen=True)
class Endpoints:
    env: Mapping[str, str]
    services: Mapping[str, str] = field(default_factory=dict)  # URL key -> the compose service answering it
    origins: Mapping[str, str] = field(default_factory=dict)  # key -> where its value came from (`config`)

    redis_url = _Url("REDIS_URL")
    redis_cluster_url = _Url("REDIS_CLUSTER_URL")
    database_url = _Url("DATABASE_URL")
    amqp_url = _Url("AMQP_URL")
    rabbitmq_mgmt_url = _Url("RABBITMQ_MGMT_URL")
    kafka_bootstrap_servers = _Url("KAFKA_BOOTSTRAP_SERVERS")
    api_url = _Url("API_URL")
    hub_url = _Url("HUB_URL")
    hub_metrics_url = _Url("HUB_METRICS_URL")
    workers_url = _Url("WORKERS_URL")
    analytics_url = _Url("ANALYTICS_URL")
    prometheus_url = _Url("PROMETHEUS_URL")
    alertmanager_url = _Url("ALERTMANAGER_URL")
    monitor_url = _Url("MONITOR_URL")
    jwt_secret = _Url("JWT_SECRET")

    @property
    def keys(self) -> tuple[str, ...]:
        """What `spotctl config` lists: every client URL, then the settings clients read."""
        from spotctl.stack.plan import CLIENT_SETTINGS

        return (*self.services, *CLIENT_SETTINGS)

    @property
    def cluster_or_redis_url(self) -> str:
        """The Redis the API, the hub and the workers keep their data in, by their own rule (a cluster
        URL wins): what the CLI's redis, jobs and hub tools read."""
        from spotctl_sandbox.common.settings import cluster_or_redis

        return cluster_or_redis(self.redis_url, self.redis_cluster_url)

    @property
    def redis_in_effect(self) -> str:
        """Which variable `cluster_or_redis_url` comes from (`spotctl config` marks it)."""
        cluster = self.redis_cluster_url
        return "REDIS_CLUSTER_URL" if cluster and self.cluster_or_redis_url == cluster else "REDIS_URL"

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


def redis_url(flag: str | None = None) -> str:
    """The Redis the CLI's tools dial: `--url` when given (a cluster URL or not), else the services' own."""
    return flag or resolve().cluster_or_redis_url


def port_open(url: str, default_port: int = 0, timeout: float = 0.3) -> bool:
    parts = urlsplit(url if "//" in url else f"tcp://{url.split(',')[0]}")
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout):
            return True
    except OSError:
        return False


def client_keys() -> tuple[str, ...]:
    """The variables a client reads, from the current project's compose file."""
    from spotctl import project
    from spotctl.stack import compose, plan

    return plan.client_keys(compose.load(project.current().compose_file))


def service_of(key: str) -> str:
    """The compose service that answers `key` (for `spotctl up SERVICE` hints); the key itself if none."""
    from spotctl import project
    from spotctl.stack import compose, plan

    try:
        return plan.client_services(compose.load(project.current().compose_file)).get(key, key)
    except SpotctlError:  # no project here: name the variable instead
        return key


def resolve(overrides: Mapping[str, str | None] | None = None) -> Endpoints:
    from spotctl import project
    from spotctl.stack import compose, plan
    from spotctl_sandbox.common.env import Env

    proj = project.current()
    stack = compose.load(proj.compose_file)
    view = plan.client_view(stack, proj)
    env = dict(view.env)
    caller = Env()
    origins = {key: _compose_origin(env.get(key, ""), stack.services.get(view.services.get(key, "")), caller)
               for key in plan.client_keys(stack)}
    for key in plan.client_keys(stack):
        value = caller.optional(key)
        if value:
            env[key], origins[key] = value, f"env {key}"
    if not caller.optional("MONGO_URL") and env.get("MONGO_URL") and not port_open(env["MONGO_URL"], 27017):
        env.pop("MONGO_URL")  # absent, never faked
        origins["MONGO_URL"] = "compose (nothing answers there)"
    for key, value in (overrides or {}).items():
        if value:
            env[key], origins[key] = value, "flag"
    return Endpoints(env=env, services=view.services, origins=origins)


def links(services: Mapping[str, Service], env: Mapping[str, str], healthy: set[str]) -> list[tuple[str, str]]:
    """(label, URL) of each healthy service's `x-links`, filled from the client URLs; a link naming a
    URL that is not set is left out. Credentials in a URL are not printed."""
    out: list[tuple[str, str]] = []
    for name, service in services.items():
        if name not in healthy:
            continue
        for label, template in service.links.items():
            try:
                url = template.format_map(env)
            except KeyError:
                continue
            parts = urlsplit(url)
            if parts.username:
                url = url.replace(f"{parts.username}:{parts.password}@" if parts.password else f"{parts.username}@", "")
            out.append((label, url))
    return out


def _compose_origin(value: str, service: Service | None, caller: Env) -> str:
    """`compose`, naming the variable that moved the port in `value` when one did (SPOTCTL_REDIS_PORT)."""
    port = urlsplit(value if "//" in value else f"tcp://{value.split(',')[0]}").port if value else None
    moved = [m.variable for m in (service.ports if service else ())
             if m.variable and m.host == port and caller.optional(m.variable)]
    return f"compose, port from env {moved[0]}" if moved else "compose"
