"""What a service sees when it runs on the host instead of inside a compose network.

Pure functions: compose host names become 127.0.0.1, container ports become the published host ports
and named-volume paths become folders in the state dir.  The same rewrite gives the client-side view
(`spotctl config`, the clients, the tests), so every URL has one origin: the compose file: the
environment of the services built here, plus each service's `x-endpoints` (URLs a client needs that no
service's environment names, e.g. RabbitMQ's management API).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from spotctl.project import Project
from spotctl.stack.compose import ComposeProject, Service

LOCALHOST = "127.0.0.1"
CLIENT_SETTINGS = ("JWT_SECRET", "MEDIA_DIR", "REPORTS_DIR")  # not URLs, but read by clients on the host
# the Redis Cluster the API, hub and workers use instead of REDIS_URL when set; the service the local
# runtime runs with this driver (`redis-cluster`) answers it, even while it is unset
CLUSTER_URL, CLUSTER_DRIVER = "REDIS_CLUSTER_URL", "redis-cluster"


def _with_port(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.-]){re.escape(name)}:(\d+)")


def _bare_host(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<=//){re.escape(name)}(?=[/?]|$)")


def rewrite_value(value: str, compose: ComposeProject, project: Project,
                  mounts: Mapping[str, str] | None = None) -> str:
    """Rewrite `name:port` references to other services and mounted paths for the host."""
    for svc in compose.services.values():
        def to_host(match: re.Match[str], svc: Service = svc) -> str:
            return f"{LOCALHOST}:{svc.host_port(int(match.group(1)))}"

        value = _with_port(svc.name).sub(to_host, value)
        value = _bare_host(svc.name).sub(LOCALHOST, value)
    for target, volume in (mounts or {}).items():
        if value == target or value.startswith(target.rstrip("/") + "/"):
            value = str(project.volume_dir(volume)) + value[len(target.rstrip("/")):]
    return value


def named_mounts(service: Service) -> dict[str, str]:
    """container path -> named volume, for `name:/path[:ro]` entries (bind mounts are skipped)."""
    mounts = {}
    for entry in service.volumes:
        parts = str(entry).split(":")
        if len(parts) >= 2 and not parts[0].startswith((".", "/", "$", "~")):
            mounts[parts[1]] = parts[0]
    return mounts


def service_env(service: Service, compose: ComposeProject, project: Project) -> dict[str, str]:
    """The compose environment rewritten for the host, then `x-local.env` (values the local runtime
    sets instead, e.g. BIND_HOST: loopback rather than a container's all interfaces)."""
    mounts = named_mounts(service)
    env = {k: rewrite_value(v, compose, project, mounts) for k, v in service.environment.items()}
    return env | {str(k): str(v) for k, v in (service.local.get("env") or {}).items()}


def referenced_service(value: str, compose: ComposeProject) -> str | None:
    """The first service a compose value points at (`redis:6379`, `http://api:8000`), if any."""
    for svc in compose.services.values():
        if _with_port(svc.name).search(value) or _bare_host(svc.name).search(value):
            return svc.name
    return None


def built_here(compose: ComposeProject) -> list[Service]:
    """The sandbox's own services (built from this repository): their environment is the client's."""
    return [svc for svc in compose.services.values() if svc.build]


def _client_entries(compose: ComposeProject) -> dict[str, tuple[str, str]]:
    """key -> (service answering it, value as compose states it), grouped by service in compose order."""
    found: dict[str, tuple[str, str]] = {}
    for svc in built_here(compose):
        for key, value in svc.environment.items():
            target = referenced_service(value, compose)
            if target is not None and not key.endswith("PORT"):
                found.setdefault(key, (target, value))
    for svc in compose.services.values():
        for key, value in svc.endpoints.items():
            found[key] = (svc.name, value)
        if svc.driver == CLUSTER_DRIVER:
            found[CLUSTER_URL] = (svc.name, next((s.environment[CLUSTER_URL] for s in built_here(compose)
                                                  if CLUSTER_URL in s.environment), ""))
    order = list(compose.services)
    return dict(sorted(found.items(), key=lambda item: order.index(item[1][0])))


def client_services(compose: ComposeProject) -> dict[str, str]:
    """Which service answers each client URL (REDIS_URL -> redis, HUB_METRICS_URL -> hub, ...)."""
    return {key: service for key, (service, _) in _client_entries(compose).items()}


def client_keys(compose: ComposeProject) -> tuple[str, ...]:
    """The variables a client on the host reads: every client URL, then the few settings it needs."""
    return (*client_services(compose), *CLIENT_SETTINGS)


def backing_services(compose: ComposeProject) -> list[str]:
    """Services the sandbox's own services talk to (named in their environment) that are not built here:
    the stores and brokers, in compose order."""
    named = {referenced_service(v, compose) for svc in built_here(compose) for v in svc.environment.values()}
    return [name for name, svc in compose.services.items() if name in named and not svc.build]


@dataclass(frozen=True)
class ClientView:
    """URLs as a client on the host reaches them; the keys match the services' own variables."""

    env: Mapping[str, str]
    services: Mapping[str, str] = field(default_factory=dict)  # client URL key -> the service answering it

    def get(self, key: str) -> str | None:
        return self.env.get(key) or None


def client_view(compose: ComposeProject, project: Project) -> ClientView:
    """The sandbox services' environment and every service's `x-endpoints`, rewritten for the host."""
    env: dict[str, str] = {}
    for svc in built_here(compose):
        env.update(service_env(svc, compose, project))
    for key in [k for k in env if k.endswith("PORT")]:
        del env[key]  # container-side listen ports; the URLs carry the host ones
    entries = _client_entries(compose)
    for key, (_, value) in entries.items():
        env[key] = rewrite_value(value, compose, project)
    return ClientView(env=env, services={key: service for key, (service, _) in entries.items()})

