"""The docker runtime: the compose file handed to Docker Compose unchanged.

It drives the `docker compose` CLI rather than the docker SDK, which has no Compose support;
health comes from Compose's own health checks (`ps --format json`), the same tests the local
runtime derives its probes from.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence

from spotctl.errors import SpotctlError
from spotctl.project import Project
from spotctl.stack import compose
from spotctl.stack.runtime import ProgressFn, ServiceStatus, State

_HEALTH = {"healthy": State.healthy, "starting": State.starting, "unhealthy": State.unhealthy}


def parse_ps(text: str) -> list[dict[str, object]]:
    """`docker compose ps --format json` prints one object per line (v2.21+) or one array (older)."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def state_of(row: dict[str, object]) -> State:
    if str(row.get("State", "")).lower() != "running":
        return State.stopped
    return _HEALTH.get(str(row.get("Health", "")).lower(), State.healthy)


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

    def _run(self, args: list[str], capture: bool = False) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(args, env=self._env(), text=True, capture_output=capture, check=False)
        except FileNotFoundError as exc:
            raise SpotctlError("the docker CLI is not installed",
                               hint="install Docker Desktop / Docker Engine, or use --runtime local") from exc
        if result.returncode != 0:
            detail = (result.stderr or "").strip().splitlines()[-1:] if capture else []
            raise SpotctlError(f"`{' '.join(args[2:5])} ...` failed ({result.returncode}) {' '.join(detail)}",
                               hint="check `docker info`; is the engine running?")
        return result

    def up(self, services: Sequence[str], profiles: Sequence[str], progress: ProgressFn) -> list[ServiceStatus]:
        from spotctl.stack import certs

        names = self.compose.select(list(services), list(profiles))
        certs.ensure(self.project.certs_dir)
        for name in names:
            progress(name, State.starting, "docker compose up")
        self._run(self.base_command(profiles or ["core"]) + ["up", "-d", "--build", "--wait", *names])
        return self.status(names)

    def down(self, services: Sequence[str], volumes: bool) -> list[str]:
        if services:
            self.compose.select(list(services))
            self._run(self.base_command() + ["rm", "--stop", "--force", *(["-v"] if volumes else []),
                                             *services])
            return list(services)
        self._run(self.base_command() + ["down", *(["--volumes"] if volumes else [])])
        return list(self.compose.services)

    def status(self, services: Sequence[str] = ()) -> list[ServiceStatus]:
        rows = parse_ps(self._run(self.base_command() + ["ps", "--all", "--format", "json"], capture=True).stdout)
        by_name = {str(r.get("Service")): r for r in rows}
        result = []
        for name in list(services) or list(self.compose.services):
            svc = self.compose.services[name]
            row = by_name.get(name)
            endpoints = tuple(f"127.0.0.1:{p.host}" for p in svc.ports)
            if row is None:
                result.append(ServiceStatus(name=name, state=State.stopped, endpoints=endpoints,
                                            detail="not created", required=not svc.optional))
                continue
            result.append(ServiceStatus(name=name, state=state_of(row), endpoints=endpoints,
                                        detail=str(row.get("Status", "")), required=not svc.optional))
        return result

    def log_files(self, services: Sequence[str]) -> dict[str, str]:
        return {}

    def logs(self, services: Sequence[str], follow: bool, tail: int) -> None:
        args = self.base_command() + ["logs", "--tail", str(tail), *(["-f"] if follow else []), *services]
        subprocess.run(args, env=self._env(), check=False)
