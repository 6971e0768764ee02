"""One interface, two runtimes: native processes (`local`) or Docker Compose (`docker`).

`auto` picks docker when an engine answers, else local; a stack already running locally keeps
being driven locally so that `ps` and `down` find what `up` started.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from spotctl.errors import UsageError
from spotctl.project import Project
from spotctl.stack.compose import ComposeProject
from spotctl_sandbox.common.env import Env

if TYPE_CHECKING:
    from spotctl.stack.usage import Usage


class State(StrEnum):
    healthy = "healthy"
    degraded = "degraded"    # up, but its /health names a dependency that does not answer (or a stalled worker)
    starting = "starting"
    unhealthy = "unhealthy"
    stopped = "stopped"
    absent = "absent"
    restarting = "restarting"  # exited; the supervisor starts it again after a backoff
    paused = "paused"  # frozen by `spotctl chaos pause`

    @property
    def health(self) -> str:
        """The four values of `spotctl health`: a stopped service is simply not healthy."""
        return "unhealthy" if self in (State.stopped, State.restarting, State.paused) else self.value


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: State
    endpoints: tuple[str, ...] = ()
    pid: int | None = None
    detail: str = ""
    note: str = ""
    hint: str = ""
    required: bool = True
    extra: dict[str, object] = field(default_factory=dict)  # typed as the service said it (JSON: true, 2)
    restarts: int | None = None  # by the local supervisor; None where nothing supervises (docker: its own)
    last_exit: str = ""  # "killed by SIGKILL", "exit code 1: <last log line>"
    last_exit_at: float | None = None
    crash_loop: bool = False

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {"status": self.state.health, "state": self.state.value,
                                   "required": self.required, "endpoints": list(self.endpoints)}
        for key in ("pid", "detail", "note", "hint", "last_exit", "last_exit_at"):
            value = getattr(self, key)
            if value:
                data[key] = value
        if self.restarts is not None:
            data["restarts"] = self.restarts
            data["crash_loop"] = self.crash_loop
        data.update(self.extra)
        return data


ProgressFn = Callable[[str, State, str], None]


class Runtime(Protocol):
    name: str
    compose: ComposeProject

    def up(self, services: Sequence[str], profiles: Sequence[str], progress: ProgressFn) -> list[ServiceStatus]:
        ...

    def down(self, services: Sequence[str], volumes: bool, progress: ProgressFn | None = None) -> list[str]:
        ...

    def status(self, services: Sequence[str] = ()) -> list[ServiceStatus]:
        ...

    def log_files(self, services: Sequence[str]) -> dict[str, str]:
        ...

    def logs(self, services: Sequence[str], follow: bool, tail: int) -> None:
        ...

    def usage(self, services: Sequence[str] = (), interval: float = 0.0) -> dict[str, Usage]:
        """CPU % and memory of each running service (a stopped one is left out). Local: CPU over
        `interval` seconds, or since this runtime's previous call when 0; docker: the engine's own
        two reads about a second apart."""
        ...

    def execute(self, service: str, argv: Sequence[str]) -> int:
        """Run `argv` (no shell) where `service` runs, with its environment; the command's exit code."""
        ...


def docker_engine_answers(timeout: float = 3.0) -> bool:
    """A Docker engine answers a ping through the SDK (no docker CLI needed for that)."""
    from spotctl.errors import SpotctlError
    from spotctl.stack.docker import engine

    try:
        engine(timeout)
    except SpotctlError:
        return False
    return True


def select(name: str | None, project: Project) -> Runtime:
    choice = (name or Env().text("SPOTCTL_RUNTIME", "auto")).lower()
    if choice not in ("auto", "local", "docker"):
        raise UsageError(f"unknown runtime {choice!r}", hint="use --runtime auto, local or docker")
    if choice == "auto":
        from spotctl.stack.local import LocalRuntime

        local = LocalRuntime(project)
        choice = "local" if local.has_running() or not docker_engine_answers() else "docker"
        if choice == "local":
            return local
    if choice == "docker":
        from spotctl.stack.docker import DockerRuntime

        return DockerRuntime(project)
    from spotctl.stack.local import LocalRuntime

    return LocalRuntime(project)
