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
from spotctl.stack.docker_state import (
    DockerFacts,
    checks,
    container_state,
    container_usage,
    explain,
    replica,
    service_status,
    service_usage,
)
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


def stats_v2() -> dict[str, Any]:
    """`GET /containers/{id}/stats?stream=false` (the SDK's `container.stats(stream=False)`) for a redis
    container on a cgroup v2 host with 2 CPUs, read one second after the engine's previous sample."""
    return {
        "name": "/spotctl-redis-1", "id": "c0ffee", "read": "2025-05-02T09:14:03.512744021Z",
        "preread": "2025-05-02T09:14:02.511802613Z", "pids_stats": {"current": 6, "limit": 18446744073709551615},
        "blkio_stats": {"io_service_bytes_recursive": [{"major": 8, "minor": 0, "op": "read", "value": 2203648}]},
        "num_procs": 0, "storage_stats": {},
        "cpu_stats": {"cpu_usage": {"total_usage": 1842117000, "usage_in_kernelmode": 601234000,
                                    "usage_in_usermode": 1240883000},
                      "system_cpu_usage": 93145220000000, "online_cpus": 2,
                      "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
        "precpu_stats": {"cpu_usage": {"total_usage": 1810867000, "usage_in_kernelmode": 590011000,
                                       "usage_in_usermode": 1220856000},
                         "system_cpu_usage": 93143220000000, "online_cpus": 2,
                         "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
        "memory_stats": {"usage": 9728000, "limit": 4101521408,
                         "stats": {"anon": 3190784, "file": 5324800, "kernel_stack": 98304, "slab": 612544,
                                   "sock": 0, "shmem": 0, "file_mapped": 3305472, "active_anon": 3170304,
                                   "inactive_anon": 20480, "active_file": 4272128, "inactive_file": 1052672,
                                   "unevictable": 0, "pgfault": 2714, "pgmajfault": 41}},
        "networks": {"eth0": {"rx_bytes": 5338, "rx_packets": 36, "tx_bytes": 648, "tx_packets": 8}},
    }


def stats_v1() -> dict[str, Any]:
    """The same read from an older engine on a cgroup v1 host: `total_*` memory counters, no `online_cpus`
    (the CPUs are counted from `percpu_usage`)."""
    return {
        "read": "2025-05-02T09:14:03.512744021Z", "preread": "2025-05-02T09:14:02.511802613Z",
        "cpu_stats": {"cpu_usage": {"percpu_usage": [8646879, 24472255, 36438778, 30657443],
                                    "total_usage": 100215355, "usage_in_kernelmode": 30000000,
                                    "usage_in_usermode": 50000000},
                      "system_cpu_usage": 739310590000000},
        "precpu_stats": {"cpu_usage": {"percpu_usage": [8646879, 24350896, 16438778, 10657443],
                                       "total_usage": 60093996, "usage_in_kernelmode": 20000000,
                                       "usage_in_usermode": 30000000},
                         "system_cpu_usage": 739306590000000},
        "memory_stats": {"usage": 33554432, "max_usage": 36651904, "limit": 67108864, "failcnt": 0,
                         "stats": {"cache": 6291456, "rss": 27262976, "inactive_file": 1048576,
                                   "total_inactive_file": 4194304, "total_rss": 27262976, "total_cache": 6291456}},
    }


def test_container_usage_is_computed_as_docker_stats_does() -> None:
    # CPU: 31.25 ms of container time in 2 s of host time (1 s on 2 CPUs) -> 3.125 % of one core
    # memory: usage less the inactive page cache (cgroup v2: inactive_file)
    new = container_usage(stats_v2())
    assert (new.cpu_percent, new.rss_bytes) == (pytest.approx(3.125), 9728000 - 1052672)
    old = container_usage(stats_v1())  # 40.1 ms in 4 s of host time (1 s on 4 CPUs); v1: total_inactive_file
    assert (round(old.cpu_percent, 2), old.rss_bytes) == (4.01, 33554432 - 4194304)


def test_a_stopped_container_uses_nothing_and_replicas_add_up() -> None:
    stopped = {"read": "0001-01-01T00:00:00Z", "cpu_stats": {"cpu_usage": {"total_usage": 0}},
               "precpu_stats": {"cpu_usage": {"total_usage": 0}}, "memory_stats": {}}
    assert (container_usage(stopped).cpu_percent, container_usage(stopped).rss_bytes) == (0.0, 0)
    both = service_usage([("hub", stats_v2()), ("hub", stats_v2()), ("redis", stats_v2())])
    assert both["hub"].rss_bytes == 2 * both["redis"].rss_bytes
    assert both["hub"].cpu_percent == pytest.approx(6.25)


def test_exec_goes_to_the_services_first_container() -> None:
    second, first = container(), container()
    second["Config"]["Labels"]["com.docker.compose.container-number"] = "2"
    first["Config"]["Labels"]["com.docker.compose.container-number"] = "1"
    assert min([second, first], key=replica) is first


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


def test_stats_and_exec_without_an_engine_say_where_they_looked(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": f"unix://{tmp_path}/none.sock", "SPOTCTL_STATE_DIR": str(tmp_path / "state")}
    for args in (("stats", "--runtime", "docker"), ("exec", "--runtime", "docker", "redis", "--", "redis-cli", "ping")):
        result = run_cli(*args, env=env)
        assert result.returncode == 1, result.stderr
        assert f"the Docker engine does not answer at unix://{tmp_path}/none.sock" in result.stderr
        assert "--runtime local" in result.stderr and "Traceback" not in result.stderr
