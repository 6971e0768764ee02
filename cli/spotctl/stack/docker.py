"""The docker runtime: the compose file handed to Docker Compose unchanged.

The docker SDK does what it does well: container state and health (the same checks the local runtime
derives its probes from), logs, resource usage (stats) and exec. It has no Compose support, so the
`docker compose` CLI brings a project up and down; a missing plugin or a silent engine is named as
such (docker_state.explain).
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from spotctl.errors import SpotctlError
from spotctl.project import Project
from spotctl.stack import compose, probes
from spotctl.stack.docker_state import (
    ENGINE_HINT,
    PROJECT_LABEL,
    DockerFacts,
    explain,
    replica,
    service_of,
    service_status,
    service_usage,
)
from spotctl.stack.runtime import ProgressFn, ServiceStatus, State

if TYPE_CHECKING:
    from spotctl.stack.usage import Usage

ENGINE_TIMEOUT_S = 5


def engine(timeout: float = ENGINE_TIMEOUT_S) -> Any:
    """A docker SDK client that has answered a ping; SpotctlError naming DOCKER_HOST when none answers."""
    import docker
    from docker.constants import DEFAULT_NPIPE, DEFAULT_UNIX_SOCKET
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except DockerException as exc:
        where = os.environ.get("DOCKER_HOST") or (DEFAULT_NPIPE if sys.platform == "win32" else DEFAULT_UNIX_SOCKET)
        raise SpotctlError(f"the Docker engine does not answer at {where.removeprefix('http+')} "
                           f"({engine_error(exc)})", hint=ENGINE_HINT) from None
    return client


def compose_version(cli: str = "docker") -> tuple[str | None, str]:
    """(the compose plugin's version, None when it is missing; what docker said)."""
    try:
        result = subprocess.run([cli, "compose", "version"], capture_output=True, text=True, timeout=20, check=False)
    except FileNotFoundError:
        return None, "the docker CLI is not installed"
    except subprocess.TimeoutExpired:
        return None, "`docker compose version` did not answer in 20 s"
    found = re.search(r"v?(\d+\.\d+\.\d+\S*)", result.stdout) if result.returncode == 0 else None
    return (found.group(1) if found else None), (result.stderr or result.stdout).strip()


def facts() -> DockerFacts:
    """What doctor reports: the CLI, its compose plugin, the engine (via the SDK)."""
    import shutil

    cli = shutil.which("docker")
    if cli is None:
        return DockerFacts(cli=None)
    plugin, said = compose_version(cli)
    try:
        version, why = str(engine(timeout=3).version().get("Version", "?")), ""
    except SpotctlError as exc:
        version, why = None, str(exc).removeprefix("the Docker engine does not answer ")
    return DockerFacts(cli, plugin, "" if plugin else said, version, why)


def engine_error(exc: BaseException) -> str:
    """The SDK's connection errors nest three exceptions deep; say what happened in a few words."""
    text = str(exc)
    if "FileNotFoundError" in text or "No such file" in text:
        return "no engine socket there"
    if "ConnectionRefused" in text or "Connection refused" in text:
        return "connection refused"
    if "Permission denied" in text or "PermissionError" in text:
        return "permission denied: add your user to the docker group"
    lines = text.strip().splitlines()
    return lines[0][:160] if lines else type(exc).__name__


class DockerRuntime:
    name = "docker"

    def __init__(self, project: Project) -> None:
        self.project = project
        self.compose = compose.load(project.compose_file)

    def base_command(self, profiles: Sequence[str] = ("*",)) -> list[str]:
        cmd = ["docker", "compose", "-f", str(self.project.compose_file), "-p", self.compose.name]
        for profile in profiles:
            cmd += ["--profile", profile]
        return cmd

    def _env(self) -> dict[str, str]:
        return {**os.environ, "SPOTCTL_CERTS_DIR": str(self.project.certs_dir)}

    def _run(self, what: str, args: list[str]) -> None:
        """Run the compose CLI, its progress on the terminal (the preflight has named a missing plugin or engine)."""
        result = subprocess.run(args, env=self._env(), check=False)
        if result.returncode != 0:
            raise SpotctlError(f"`docker compose {what}` failed (exit code {result.returncode})",
                               hint="docker compose said why above; `spotctl doctor` checks docker, compose and "
                                    "the engine")

    def _preflight(self) -> None:
        """Before anything starts: the docker CLI, its compose plugin (the SDK cannot bring a project up), the
        engine. Each missing piece is named with its fix."""
        version, said = compose_version()
        if version is None:
            failure = explain("docker compose version", 1, said)
            raise SpotctlError(failure.message, hint=failure.hint)
        engine()

    def up(self, services: Sequence[str], profiles: Sequence[str], progress: ProgressFn) -> list[ServiceStatus]:
        from spotctl.stack import certs

        names = self.compose.select(list(services), list(profiles))
        self._preflight()
        certs.ensure(self.project.certs_dir)
        for name in names:
            progress(name, State.starting, "docker compose up")
        self._run("up", self.base_command(profiles or self.compose.default_profiles)
                  + ["up", "-d", "--build", "--wait", *names])
        return self.status(names)

    def down(self, services: Sequence[str], volumes: bool, progress: ProgressFn | None = None) -> list[str]:
        self._preflight()  # docker compose prints its own progress
        if services:
            self.compose.select(list(services))
            self._run("rm", self.base_command() + ["rm", "--stop", "--force", *(["-v"] if volumes else []),
                                             *services])
            return list(services)
        self._run("down", self.base_command() + ["down", *(["--volumes"] if volumes else [])])
        return list(self.compose.services)

    def containers(self) -> list[Any]:
        """This project's containers (stopped ones too), through the SDK."""
        return list(engine().containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={self.compose.name}"}))

    def status(self, services: Sequence[str] = ()) -> list[ServiceStatus]:
        by_service: dict[str, list[dict[str, Any]]] = {}
        for container in self.containers():
            by_service.setdefault(service_of(container.attrs), []).append(container.attrs)
        return [_truthful(self.compose.services[name], service_status(self.compose.services[name],
                                                                       by_service.get(name, [])))
                for name in list(services) or list(self.compose.services)]

    def log_files(self, services: Sequence[str]) -> dict[str, str]:
        return {}

    def logs(self, services: Sequence[str], follow: bool, tail: int) -> None:
        """Each container's log through the SDK, prefixed with its service; followed ones merged as they come."""
        wanted = set(services)
        picked = [c for c in self.containers() if not wanted or service_of(c.attrs) in wanted]
        width = max((len(service_of(c.attrs)) for c in picked), default=0)
        for service, line in _merged(picked, follow, tail):
            prefix = f"{service:<{width}} | " if len(picked) > 1 else ""
            sys.stdout.write(prefix + line.decode(errors="replace").rstrip("\n") + "\n")
            sys.stdout.flush()

    def _running(self, services: Sequence[str] = ()) -> list[Any]:
        wanted = set(services)
        return [c for c in self.containers()
                if c.status == "running" and (not wanted or service_of(c.attrs) in wanted)]

    def usage(self, services: Sequence[str] = (), interval: float = 0.0) -> dict[str, Usage]:
        """Each running container's stats through the SDK, read side by side: the engine answers a
        stats read once it has two samples about a second apart (so `interval` is its own)."""
        from concurrent.futures import ThreadPoolExecutor

        running = self._running(services)
        if not running:
            return {}
        with ThreadPoolExecutor(max_workers=min(len(running), 8)) as pool:
            samples = [s for s in pool.map(_stats, running) if s is not None]
        return service_usage(samples)

    def execute(self, service: str, argv: Sequence[str]) -> int:
        """`docker exec` through the SDK, in the service's first container: no terminal and no stdin;
        its stdout then its stderr once it ends, and its exit code."""
        self.compose.select([service])
        running = self._running([service])
        if not running:
            raise SpotctlError(f"{service} is not running", hint=f"start it with `spotctl up {service}`")
        result = min(running, key=lambda c: replica(c.attrs)).exec_run(list(argv), demux=True)
        out, err = result.output or (None, None)
        for stream, data in ((sys.stdout, out), (sys.stderr, err)):
            if data:
                stream.flush()
                stream.buffer.write(data)
                stream.buffer.flush()
        return int(result.exit_code or 0)


def _stats(container: Any) -> tuple[str, dict[str, Any]] | None:
    """(service, the Engine API's stats document); None for a container gone since it was listed."""
    from docker.errors import APIError

    try:
        return service_of(container.attrs), container.stats(stream=False)
    except APIError:
        return None


def _truthful(svc: compose.Service, status: ServiceStatus) -> ServiceStatus:
    """Compose's health check sees HTTP 200; a sandbox service's /health body says what does not answer."""
    import dataclasses

    probe = probes.derive(svc) if svc.build and status.state is State.healthy else None
    wrong = probes.problems(probes.health_body(probe) or {}) if probe else []
    if not wrong:
        return status
    return dataclasses.replace(status, state=State.degraded, detail="degraded: " + "; ".join(wrong),
                               extra={**status.extra, "degraded": ", ".join(w.split(" (")[0] for w in wrong)})


def _merged(containers: list[Any], follow: bool, tail: int) -> Iterator[tuple[str, bytes]]:
    """(service, line) from every container: in time order when not following, as they arrive otherwise."""
    if not follow:
        lines = []
        for c in containers:
            for raw in c.logs(tail=tail, timestamps=True).splitlines():
                stamp, _, text = raw.partition(b" ")
                lines.append((stamp, service_of(c.attrs), text))
        for _, service, text in sorted(lines, key=lambda x: x[0]):
            yield service, text
        return
    lines_q: queue.Queue[tuple[str, bytes] | None] = queue.Queue()

    def pump(container: Any) -> None:
        try:
            for chunk in container.logs(stream=True, follow=True, tail=tail):
                lines_q.put((service_of(container.attrs), chunk))
        finally:
            lines_q.put(None)

    for c in containers:
        threading.Thread(target=pump, args=(c,), daemon=True).start()
    open_streams = len(containers)
    while open_streams:
        item = lines_q.get()
        if item is None:
            open_streams -= 1
            continue
        yield item
