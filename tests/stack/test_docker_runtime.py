"""The docker runtime without an engine (there is none on this machine kind): the SDK's container records
mapped to what `spotctl ps` shows, failures named with their fix, and the real error paths a user meets
when the compose plugin or the engine is missing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from spotctl.errors import SpotctlError
from spotctl.project import Project
from spotctl.stack import compose
from spotctl.stack.docker import DockerRuntime
from spotctl.stack.docker_state import DockerFacts, checks, container_state, explain, service_status
from spotctl.stack.runtime import State

from ..conftest import ROOT, run_cli


def container(status: str = "running", health: str | None = "healthy", **state: Any) -> dict[str, Any]:
    """A container as the Engine API's inspect (the SDK's `Container.attrs`) describes it."""
    record: dict[str, Any] = {"Status": status, "Running": status == "running", "Pid": 4242, "ExitCode": 0,
                              "Error": "", **state}
    if health:
        record["Health"] = {"Status": health, "FailingStreak": 0, "Log": []}
    return {"Id": "c0ffee", "State": record, "RestartCount": 0,
            "Config": {"Labels": {"com.docker.compose.project": "spotctl", "com.docker.compose.service": "redis"}}}


@pytest.fixture(scope="module")
def redis() -> compose.Service:
    return compose.load(ROOT / "compose" / "compose.yaml").services["redis"]


def test_running_containers_are_as_healthy_as_their_health_check_says() -> None:
    assert container_state(container()) == (State.healthy, "running, healthy")
    assert container_state(container(health="starting"))[0] is State.starting
    assert container_state(container(health=None)) == (State.healthy, "running (no health check)")
    sick = container(health="unhealthy")
    sick["State"]["Health"]["Log"] = [{"ExitCode": 1, "Output": "Could not connect to Redis at 127.0.0.1:6379\n"}]
    assert container_state(sick) == (State.unhealthy,
                                     "running, unhealthy: Could not connect to Redis at 127.0.0.1:6379")


def test_stopped_restarting_and_paused_containers_say_why() -> None:
    assert container_state(container("exited", None, ExitCode=137, OOMKilled=True)) == \
        (State.stopped, "exited (exit code 137) (out of memory)")
    assert container_state(container("restarting", None))[0] is State.restarting
    assert container_state(container("paused")) == (State.paused, "paused")
    assert container_state(container("created", None)) == (State.stopped, "created")


def test_a_service_is_as_good_as_its_worst_container(redis: compose.Service) -> None:
    one = service_status(redis, [container()])
    assert (one.state, one.pid, one.endpoints) == (State.healthy, 4242, (f"127.0.0.1:{redis.ports[0].host}",))
    two = service_status(redis, [container(), container("exited", None, ExitCode=1)])
    assert (two.state, two.pid, two.detail) == (State.stopped, 4242, "1/2 running; exited (exit code 1)")
    assert service_status(redis, []).detail == "not created"


def test_compose_failures_name_the_missing_plugin_or_engine() -> None:
    plugin = explain("docker compose version", 1, "docker: unknown command: docker compose\n\nRun 'docker --help'")
    assert "Compose plugin is not installed" in plugin.message and "docker-compose-plugin" in plugin.hint
    older = explain("x", 1, "docker: 'compose' is not a docker command.\nSee 'docker --help'")
    assert "Compose plugin" in older.message
    engine = explain("x", 1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker "
                             "daemon running?")
    assert engine.message == "the Docker engine does not answer" and "Docker Desktop" in engine.hint


def test_doctor_names_each_missing_docker_piece() -> None:
    assert [c[0:2] for c in checks(DockerFacts(cli=None))] == [("docker", "warn")]
    found = {c[0]: c for c in checks(DockerFacts("/usr/bin/docker", None, "docker: unknown command: docker compose",
                                                 None, "at unix:///var/run/docker.sock (no engine socket there)"))}
    assert found["docker compose"][1] == "warn" and "Compose plugin is missing" in found["docker compose"][2]
    assert "docker-compose-plugin" in found["docker compose"][3]
    assert "no engine socket there" in found["docker engine"][2]
    ok = {c[0]: c[1] for c in checks(DockerFacts("/usr/bin/docker", "2.29.1", "", "27.1.1", ""))}
    assert ok == {"docker": "ok", "docker compose": "ok", "docker engine": "ok"}


def test_status_without_an_engine_is_an_error_naming_where_it_looked(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    with pytest.raises(SpotctlError, match=f"does not answer at unix://{tmp_path}/docker.sock"):
        DockerRuntime(Project(root=ROOT, state_dir=tmp_path)).status()


def test_doctor_and_up_name_the_missing_compose_plugin(tmp_path: Path) -> None:
    """With a docker CLI that has no compose plugin (as on this machine kind), say so, not 'is the engine
    running?'."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI on this machine")
    if subprocess.run([docker, "compose", "version"], capture_output=True, timeout=20).returncode == 0:
        pytest.skip("this docker CLI has the compose plugin")
    doctor = run_cli("doctor", "-o", "json", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    plugin = [c for c in json.loads(doctor.stdout) if c["name"] == "docker compose"]
    assert plugin and plugin[0]["verdict"] == "warn" and "docker-compose-plugin" in plugin[0]["fix"]
    up = run_cli("up", "--runtime", "docker", "redis")
    assert up.returncode == 1 and "the Docker Compose plugin is not installed" in up.stderr
    assert "is the engine running" not in up.stderr
