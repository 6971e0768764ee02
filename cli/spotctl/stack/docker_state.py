"""The docker runtime's decisions, pure: Engine API container records -> ServiceStatus, stats
documents -> Usage, a failed `docker compose` run -> what is wrong and how to fix it, and doctor's
checks from what was found.

The records are what the docker SDK's `Container.attrs` holds (the Engine API's container inspect
JSON): `State.Status`, `State.Health.Status` and its log, `State.ExitCode`, the compose labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spotctl.stack.compose import Service
from spotctl.stack.runtime import ServiceStatus, State
from spotctl.stack.usage import Usage

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
PLUGIN_HINT = ("install the Docker Compose plugin: Docker Desktop includes it; on Linux `apt-get install "
               "docker-compose-plugin` (Docker's apt repository), or see docs.docker.com/compose/install")
ENGINE_HINT = "start Docker Desktop (or dockerd), or use --runtime local"
_HEALTH = {"healthy": State.healthy, "starting": State.starting, "unhealthy": State.unhealthy}
_WORST = (State.stopped, State.restarting, State.paused, State.unhealthy, State.starting,
          State.healthy)  # a service is as good as its worst container


def service_of(attrs: Mapping[str, Any]) -> str:
    return str((attrs.get("Config") or {}).get("Labels", {}).get(SERVICE_LABEL, ""))


def replica(attrs: Mapping[str, Any]) -> int:
    """The container's number within its service (1 for the first, as `docker compose exec` picks)."""
    number = str((attrs.get("Config") or {}).get("Labels", {}).get(NUMBER_LABEL, ""))
    return int(number) if number.isdigit() else 0


def container_state(attrs: Mapping[str, Any]) -> tuple[State, str]:
    """One container's state and the detail a user needs (exit code, the failing health check's output)."""
    state = attrs.get("State") or {}
    status = str(state.get("Status", "")).lower()
    health = state.get("Health") or {}
    if status == "running":
        verdict = _HEALTH.get(str(health.get("Status", "")).lower(), State.healthy)  # no check: running is all
        detail = f"running, {health['Status']}" if health.get("Status") else "running (no health check)"
        log = health.get("Log") or []
        if verdict is State.unhealthy and log:
            output = str(log[-1].get("Output", "")).strip().splitlines()
            detail += f": {output[-1][:120]}" if output else f" (check exit code {log[-1].get('ExitCode')})"
        return verdict, detail
    if status == "restarting":  # Docker applies the restart policy, as the local supervisor does
        return State.restarting, f"restarting ({attrs.get('RestartCount', 0)} restarts so far)"
    if status == "paused":
        return State.paused, "paused"
    error = f": {state['Error']}" if state.get("Error") else ""
    code = f" (exit code {state.get('ExitCode')})" if status in ("exited", "dead") else ""
    return State.stopped, f"{status or 'unknown'}{code}{error}" + (" (out of memory)" if state.get("OOMKilled") else "")


def service_status(svc: Service, containers: Sequence[Mapping[str, Any]]) -> ServiceStatus:
    """A compose service from its containers (several with replicas): the worst of them speaks."""
    endpoints = tuple(f"127.0.0.1:{p.host}" for p in svc.ports)
    if not containers:
        return ServiceStatus(name=svc.name, state=State.stopped, endpoints=endpoints, detail="not created",
                             required=not svc.optional)
    states = [container_state(c) for c in containers]
    state, detail = min(states, key=lambda s: _WORST.index(s[0]))
    running = [c for c in containers if (c.get("State") or {}).get("Status") == "running"]
    pid = (int(running[0]["State"].get("Pid") or 0) or None) if len(running) == 1 else None
    if len(containers) > 1:
        detail = f"{len(running)}/{len(containers)} running; {detail}"
    return ServiceStatus(name=svc.name, state=state, endpoints=endpoints, pid=pid, detail=detail,
                         required=not svc.optional)


def container_usage(stats: Mapping[str, Any]) -> Usage:
    """A container's CPU % and memory from one stats document (`GET /containers/{id}/stats?stream=false`),
    computed as `docker stats` does: CPU = the container's CPU time over the host's between `precpu_stats`
    and `cpu_stats`, times the online CPUs (% of one core); memory = usage less the inactive page cache
    (`total_inactive_file` on cgroup v1, `inactive_file` on v2; Docker 19.03 and older took `cache`)."""
    now, before = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    cpu_delta = _total(now) - _total(before)
    system_delta = float(now.get("system_cpu_usage") or 0) - float(before.get("system_cpu_usage") or 0)
    cpus = now.get("online_cpus") or len((now.get("cpu_usage") or {}).get("percpu_usage") or ())
    percent = cpu_delta / system_delta * cpus * 100.0 if system_delta > 0 and cpu_delta > 0 else 0.0
    memory = stats.get("memory_stats") or {}
    used, pages = int(memory.get("usage") or 0), memory.get("stats") or {}
    if "total_inactive_file" in pages and int(pages["total_inactive_file"]) < used:
        return Usage(percent, used - int(pages["total_inactive_file"]))
    inactive = int(pages.get("inactive_file") or 0)
    return Usage(percent, used - inactive if inactive < used else used)


def _total(cpu: Mapping[str, Any]) -> float:
    return float((cpu.get("cpu_usage") or {}).get("total_usage") or 0)


def service_usage(samples: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Usage]:
    """(service, stats document) per container -> Usage per service, its replicas summed."""
    out: dict[str, Usage] = {}
    for service, stats in samples:
        one, seen = container_usage(stats), out.get(service, Usage(0.0, 0))
        out[service] = Usage(seen.cpu_percent + one.cpu_percent, seen.rss_bytes + one.rss_bytes)
    return out


@dataclass(frozen=True)
class ComposeFailure:
    message: str
    hint: str


def explain(command: str, returncode: int, stderr: str) -> ComposeFailure:
    """Why a `docker compose ...` run failed, in the user's terms."""
    text = stderr.strip()
    lower = text.lower()
    if "docker cli is not installed" in lower:
        return ComposeFailure("the docker CLI is not installed",
                              "install Docker Desktop / Docker Engine, or use --runtime local")
    if "unknown command" in lower and "compose" in lower or "'compose' is not a docker command" in lower:
        return ComposeFailure("the Docker Compose plugin is not installed (`docker compose` is unknown)", PLUGIN_HINT)
    if "cannot connect to the docker daemon" in lower or "error during connect" in lower:
        return ComposeFailure("the Docker engine does not answer", ENGINE_HINT)
    last = text.splitlines()[-1] if text else "no error output"
    return ComposeFailure(f"`{command}` failed (exit code {returncode}): {last}",
                          "see the output above; `spotctl doctor` checks docker, its compose plugin and the engine")


@dataclass(frozen=True)
class DockerFacts:
    """What doctor found: the CLI's path, `docker compose version`, and the engine's version via the SDK."""

    cli: str | None
    compose_version: str | None = None
    compose_error: str = ""
    engine_version: str | None = None
    engine_error: str = ""


def checks(facts: DockerFacts) -> list[tuple[str, str, str, str]]:
    """(name, verdict ok|warn|fail, detail, how to fix) for the docker CLI, its compose plugin and the engine.

    Docker is optional (the local runtime needs none), so a gap is a warning, never a failure."""
    if facts.cli is None:
        return [("docker", "warn", "no docker CLI: the local runtime will be used",
                 "install Docker Desktop (Windows/macOS) or Docker Engine for --runtime docker")]
    out = [("docker", "ok", facts.cli, "")]
    if facts.compose_version:
        out.append(("docker compose", "ok", f"plugin {facts.compose_version}", ""))
    else:
        why = facts.compose_error.strip().splitlines()[0] if facts.compose_error.strip() else "not found"
        out.append(("docker compose", "warn", f"the Compose plugin is missing ({why}): --runtime docker cannot "
                                              "start the stack", PLUGIN_HINT))
    if facts.engine_version:
        out.append(("docker engine", "ok", f"{facts.engine_version} answers: `--runtime auto` uses docker", ""))
    else:
        out.append(("docker engine", "warn", f"no engine answers {facts.engine_error or '(no reply)'}: "
                                             "the local runtime will be used", ENGINE_HINT))
    return out
