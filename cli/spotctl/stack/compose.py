"""Load the compose file into plain dataclasses: the one description both runtimes read.

Interpolation follows the Compose Specification (`${VAR}`, `${VAR:-default}`, `${VAR-default}`,
`$$` for a literal `$`), so the local runtime sees exactly the values Docker Compose would.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spotctl.errors import SpotctlError, UsageError

_VAR = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class PortMapping:
    host: int
    container: int
    variable: str | None = None  # the variable that moves the host port, e.g. SPOTCTL_REDIS_PORT


@dataclass(frozen=True)
class HealthCheck:
    test: tuple[str, ...]
    interval_s: float = 5.0
    timeout_s: float = 5.0
    retries: int = 3
    start_period_s: float = 0.0


@dataclass(frozen=True)
class Service:
    name: str
    image: str | None
    build: bool
    command: tuple[str, ...]
    environment: Mapping[str, str]
    ports: tuple[PortMapping, ...]
    healthcheck: HealthCheck | None
    depends_on: tuple[str, ...]
    profiles: tuple[str, ...]
    started_is_enough: frozenset[str] = frozenset()  # deps with `condition: service_started`
    volumes: tuple[str, ...] = ()
    local: Mapping[str, Any] = field(default_factory=dict)
    extensions: Mapping[str, Any] = field(default_factory=dict)  # every `x-*` key (x-k8s, ...), as written
    restart: str = ""  # Compose's restart policy: no | always | on-failure[:N] | unless-stopped ("": unset = no)
    stop_signal: str = "SIGTERM"  # compose `stop_signal`: how the service wants to be stopped

    @property
    def driver(self) -> str:
        """How the local runtime runs it: a named driver, or `python` for our own builds."""
        return str(self.local.get("driver", "python" if self.build else "none"))

    @property
    def endpoints(self) -> dict[str, str]:
        """`x-endpoints`: URLs a client on the host needs that no service's environment names."""
        return {str(k): str(v) for k, v in (self.extensions.get("x-endpoints") or {}).items()}

    @property
    def links(self) -> dict[str, str]:
        """`x-links`: what a person opens once the service is up, label -> URL template over the
        client URLs (`{API_URL}/docs`), printed by `spotctl up`."""
        return {str(k): str(v) for k, v in (self.extensions.get("x-links") or {}).items()}

    @property
    def optional(self) -> bool:
        return bool(self.local.get("optional", False))

    def host_port(self, container_port: int) -> int:
        for mapping in self.ports:
            if mapping.container == container_port:
                return mapping.host
        return container_port


@dataclass(frozen=True)
class ComposeProject:
    path: Path
    name: str
    services: Mapping[str, Service]
    volumes: tuple[str, ...]
    extensions: Mapping[str, Any] = field(default_factory=dict)  # top-level `x-*` keys

    @property
    def default_profiles(self) -> tuple[str, ...]:
        """What a bare `spotctl up` starts: `x-spotctl.default-profiles`, else the core profile."""
        return tuple((self.extensions.get("x-spotctl") or {}).get("default-profiles") or ("core",))

    def select(self, names: list[str] | None = None, profiles: list[str] | None = None) -> list[str]:
        """Services to act on, dependencies first; unknown names are a usage error."""
        if names:
            unknown = [n for n in names if n not in self.services]
            if unknown:
                raise UsageError(f"unknown service: {', '.join(unknown)}",
                                 hint=f"services in {self.path.name}: {', '.join(self.services)}")
            wanted = set(names)
        else:
            active = set(profiles or self.default_profiles)
            wanted = {n for n, s in self.services.items() if not s.profiles or active & set(s.profiles)}
        return self._with_dependencies(wanted)

    def _with_dependencies(self, wanted: set[str]) -> list[str]:
        order: list[str] = []

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in order:
                return
            if name in path:
                raise SpotctlError(f"dependency cycle in {self.path.name}: {' -> '.join(path + (name,))}")
            for dep in self.services[name].depends_on:
                visit(dep, path + (name,))
            order.append(name)

        for name in sorted(wanted, key=list(self.services).index):
            visit(name, ())
        return order


def interpolate(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        expr = match.group("braced") if match.group("braced") is not None else match.group("named")
        for sep in (":-", "-", ":?", "?"):
            if sep in expr:
                var, default = expr.split(sep, 1)
                value = env.get(var)
                if sep.startswith(":") and not value or value is None:
                    if "?" in sep:
                        raise SpotctlError(f"compose file needs ${var}: {default}")
                    return default
                return value
        return env.get(expr, "")

    return _VAR.sub(replace, text)


def _interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolate_tree(x, env) for x in node]
    if isinstance(node, dict):
        return {k: _interpolate_tree(v, env) for k, v in node.items()}
    return node


def _duration(value: Any, default: float) -> float:
    """Compose durations: '2s', '1m30s', '500ms'."""
    if value is None:
        return default
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|s|m|h)", str(value)):
        total += float(amount) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def _ports(raw: list[Any], variables: list[str | None]) -> tuple[PortMapping, ...]:
    mappings = []
    for item, variable in zip(raw, variables, strict=True):
        if isinstance(item, dict):
            target = int(item["target"])
            mappings.append(PortMapping(int(item.get("published") or target), target, variable))
            continue
        parts = str(item).split(":")
        container = int(parts[-1].split("/")[0])
        host = int(parts[-2]) if len(parts) >= 2 else container
        mappings.append(PortMapping(host, container, variable))
    return tuple(mappings)


def _port_variables(raw_services: dict[str, Any]) -> dict[str, list[str | None]]:
    """Before interpolation: which variable (if any) each published port is read from."""
    found: dict[str, list[str | None]] = {}
    for name, spec in raw_services.items():
        entries = (spec or {}).get("ports") or []
        found[name] = [m.group(1) if (m := re.match(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", str(e))) else None
                       for e in entries]
    return found


def _environment(raw: Any) -> dict[str, str]:
    if isinstance(raw, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {str(k): "" if v is None else str(v) for k, v in (raw or {}).items()}


def _service(name: str, raw: dict[str, Any], port_variables: list[str | None]) -> Service:
    hc = raw.get("healthcheck")
    health = None
    if hc and not hc.get("disable"):
        test = hc["test"]
        health = HealthCheck(
            test=tuple([test] if isinstance(test, str) else test),
            interval_s=_duration(hc.get("interval"), 5.0),
            timeout_s=_duration(hc.get("timeout"), 5.0),
            retries=int(hc.get("retries", 3)),
            start_period_s=_duration(hc.get("start_period"), 0.0),
        )
    command = raw.get("command") or ()
    depends = raw.get("depends_on") or []
    conditions = {} if isinstance(depends, list) else {k: (v or {}).get("condition") for k, v in depends.items()}
    return Service(
        name=name,
        image=raw.get("image"),
        build="build" in raw,
        command=tuple(command.split() if isinstance(command, str) else command),
        environment=_environment(raw.get("environment")),
        ports=_ports(raw.get("ports") or [], port_variables),
        healthcheck=health,
        depends_on=tuple(depends if isinstance(depends, list) else depends.keys()),
        started_is_enough=frozenset(k for k, c in conditions.items() if c == "service_started"),
        profiles=tuple(raw.get("profiles") or ()),
        volumes=tuple(str(v) for v in raw.get("volumes") or () if isinstance(v, str)),
        local=dict(raw.get("x-local") or {}),
        extensions={k: v for k, v in raw.items() if str(k).startswith("x-")},
        restart=str(raw.get("restart") or ""),
        stop_signal=str(raw.get("stop_signal") or "SIGTERM"),
    )


def load(path: Path, env: Mapping[str, str] | None = None) -> ComposeProject:
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster on every command
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except FileNotFoundError as exc:
        raise SpotctlError(f"compose file not found: {path}",
                           hint="run spotctl inside the project, or set SPOTCTL_PROJECT_DIR") from exc
    except yaml.YAMLError as exc:
        raise SpotctlError(f"{path} is not valid YAML: {exc}") from exc
    variables = _port_variables(raw.get("services") or {})
    raw = _interpolate_tree(raw, os.environ if env is None else env)
    services = {name: _service(name, spec or {}, variables[name]) for name, spec in (raw.get("services") or {}).items()}
    return ComposeProject(path=path, name=str(raw.get("name") or "spotctl"), services=services,
                          volumes=tuple(raw.get("volumes") or ()),
                          extensions={k: v for k, v in raw.items() if str(k).startswith("x-")})
