"""Local stand-ins for compose images: each driver turns a compose service into a native process.

A driver gets the service as the compose file states it (environment already rewritten for the
host) and returns a `Launch`: the argv, environment and user to run, after preparing data dirs.
It raises `Absent` when this machine has no binary for it, with the way to get one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from spotctl.project import Project
from spotctl.stack.compose import ComposeProject, Service


class Absent(Exception):
    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


@dataclass(frozen=True)
class External:
    """The service is provided outside the runtime (e.g. MONGO_URL): probe it, start nothing."""

    url: str
    note: str


@dataclass
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    user: str | None = None
    after_healthy: Callable[[], None] | None = None
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    main: str = ""  # when argv is a wrapper: the process name of the real server, tracked as the pid


@dataclass(frozen=True)
class Context:
    service: Service
    compose: ComposeProject
    project: Project
    env: Mapping[str, str]   # the service's compose environment, rewritten for the host

    def data_dir(self, volume_hint: str | None = None) -> Path:
        """The named volume the service mounts (its data), as a folder in the state dir."""
        for entry in self.service.volumes:
            source = entry.split(":")[0]
            if source in self.compose.volumes and (volume_hint is None or volume_hint in source):
                return self.project.volume_dir(source)
        return self.project.volume_dir(f"{self.service.name}-data")

    def port(self, container_port: int) -> int:
        return self.service.host_port(container_port)

    def base_env(self) -> dict[str, str]:
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TEMP", "TMP", "TZ", "USER", "LOGNAME")
        return {k: v for k, v in os.environ.items() if k in keep}


def which(*names: str, extra_dirs: tuple[str, ...] = ()) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
        for folder in extra_dirs:
            candidate = Path(folder) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return None


Driver = Callable[[Context], "Launch | External"]
Finder = Callable[[], object]  # the binary's path; raises Absent with how to get one


def finder(name: str) -> Finder | None:
    """How `spotctl doctor` looks for a driver's binary (None: nothing to look for, e.g. `python`)."""
    from spotctl.stack.drivers import (
        gateway,
        kafka,
        mongo,
        observability,
        postgres,
        rabbitmq,
        redis,
        redis_cluster,
    )

    finders: dict[str, Finder] = {
        "redis": redis.find_binary, "redis-cluster": redis_cluster.find_cli, "postgres": postgres.find_binary,
        "rabbitmq": rabbitmq.find_binary,
        "kafka": kafka.find_binary, "mongo": mongo.find_binary, "nginx": gateway.find_binary,
        "prometheus": observability.find_prometheus, "grafana": observability.find_grafana,
    }
    return finders.get(name)


def get(name: str) -> Driver:
    from spotctl.stack.drivers import (
        elasticsearch,
        exporter,
        gateway,
        influxdb,
        kafka,
        mongo,
        observability,
        postgres,
        python,
        rabbitmq,
        redis,
        redis_cluster,
    )

    drivers: dict[str, Driver] = {
        "python": python.launch, "redis": redis.launch, "postgres": postgres.launch,
        "rabbitmq": rabbitmq.launch, "kafka": kafka.launch, "mongo": mongo.launch, "nginx": gateway.launch,
        "prometheus": observability.prometheus, "grafana": observability.grafana,
        "influxdb": influxdb.launch, "elasticsearch": elasticsearch.launch,
        "alertmanager": observability.alertmanager, "exporter": exporter.launch,
        "redis-cluster": redis_cluster.launch,
    }
    if name not in drivers:
        raise Absent(f"no local driver named {name!r}", "use --runtime docker for this service")
    return drivers[name]
