"""What a service sees when it runs on the host instead of inside a compose network.

Pure functions: compose host names become 127.0.0.1, container ports become the published host ports
and named-volume paths become folders in the state dir.  The same rewrite gives the client-side view
(`spotctl config`, the inspectors, the tests), so every URL has one origin: the compose file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from spotctl.project import Project
from spotctl.stack.compose import ComposeProject, Service

LOCALHOST = "127.0.0.1"


def rewrite_value(value: str, compose: ComposeProject, project: Project,
                  mounts: Mapping[str, str] | None = None) -> str:
    """Rewrite `name:port` references to other services and mounted paths for the host."""
    for svc in compose.services.values():
        def to_host(match: re.Match[str], svc: Service = svc) -> str:
            return f"{LOCALHOST}:{svc.host_port(int(match.group(1)))}"

        value = re.sub(rf"(?<![\w.-]){re.escape(svc.name)}:(\d+)", to_host, value)
        value = re.sub(rf"(?<=//){re.escape(svc.name)}(?=[/?]|$)", LOCALHOST, value)
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
    mounts = named_mounts(service)
    return {k: rewrite_value(v, compose, project, mounts) for k, v in service.environment.items()}


@dataclass(frozen=True)
class ClientView:
    """URLs as a client on the host reaches them; the keys match the services' own variables."""

    env: Mapping[str, str]

    def get(self, key: str) -> str | None:
        return self.env.get(key) or None


def client_view(compose: ComposeProject, project: Project) -> ClientView:
    """The sandbox services' environment, rewritten for the host, plus management/metrics URLs."""
    env: dict[str, str] = {}
    for name in ("api", "hub", "workers"):
        if name in compose.services:
            env.update(service_env(compose.services[name], compose, project))
    for key in [k for k in env if k.endswith("PORT")]:
        del env[key]  # container-side listen ports; the URLs below carry the host ones
    services = compose.services
    if "rabbitmq" in services:
        rmq = services["rabbitmq"]
        user = rmq.environment.get("RABBITMQ_DEFAULT_USER", "guest")
        password = rmq.environment.get("RABBITMQ_DEFAULT_PASS", "guest")
        env["RABBITMQ_MGMT_URL"] = f"http://{user}:{password}@{LOCALHOST}:{rmq.host_port(15672)}"
    if "hub" in services:
        metrics = int(services["hub"].environment.get("METRICS_PORT", "9765"))
        env["HUB_METRICS_URL"] = f"http://{LOCALHOST}:{services['hub'].host_port(metrics)}"
    if "workers" in services:
        port = int(services["workers"].environment.get("PORT", "8090"))
        env["WORKERS_URL"] = f"http://{LOCALHOST}:{services['workers'].host_port(port)}"
    if "gateway" in services:
        env["GATEWAY_URL"] = f"https://{LOCALHOST}:{services['gateway'].host_port(443)}"
    return ClientView(env=env)

