"""The compose file is the single source of truth: valid, complete, and read the same by both runtimes."""

from __future__ import annotations

from pathlib import Path

import pytest

from spotctl.project import Project
from spotctl.stack import compose, plan, probes, validate

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose" / "compose.yaml"


@pytest.fixture(scope="module")
def project() -> compose.ComposeProject:
    return compose.load(COMPOSE, env={})


def test_compose_file_follows_the_compose_specification() -> None:
    assert validate.schema_errors(COMPOSE) == []


def test_every_service_has_a_health_check_and_a_local_stand_in(project: compose.ComposeProject) -> None:
    assert validate.design_errors(project) == []


def test_images_built_here_have_their_dockerfile() -> None:
    assert validate.build_errors(COMPOSE) == []


def test_the_whole_stack_is_there(project: compose.ComposeProject) -> None:
    observability = ["prometheus", "alertmanager", "node-exporter", "redis-exporter", "postgres-exporter", "monitor",
                     "grafana"]
    cluster = {f"redis-node-{i}" for i in range(1, 7)} | {"redis-cluster"}
    assert set(project.services) == {"redis", "postgres", "rabbitmq", "kafka", "mongo", "api", "hub", "workers",
                                     "gateway", "influxdb", "elasticsearch", "analytics", *observability} | cluster
    assert project.select(None, ["observability"]) == observability
    core = project.select(None, ["core"])
    assert "gateway" in core and not set(core) & set(observability)
    assert project.select(None, None) == core + observability  # a bare `spotctl up` starts both (x-spotctl)
    assert set(project.select(None, ["redis-cluster"])) == cluster  # only when asked for
    assert project.select(None, ["redis-cluster"])[-1] == "redis-cluster"  # created once the nodes are up


def test_local_and_docker_plans_name_the_same_services_and_ports(project: compose.ComposeProject) -> None:
    """Docker publishes `ports`; the local runtime probes and listens on exactly those host ports."""
    for svc in project.services.values():
        if not svc.ports:  # a one-shot (redis-cluster): probed at the URL its local driver reports
            continue
        published = {m.host for m in svc.ports}
        probe = probes.derive(svc)
        assert probe is not None and probe.port in published, svc.name


def test_interpolation_follows_compose_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert compose.interpolate("${SET:-d} ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} $$HOME $SET", env) == "x d d  $HOME x"


def test_port_overrides_move_published_ports() -> None:
    moved = compose.load(COMPOSE, env={"SPOTCTL_REDIS_PORT": "7000"})
    assert moved.services["redis"].host_port(6379) == 7000
    assert probes.derive(moved.services["redis"]) == probes.Probe(probes.ProbeKind.redis, 7000)
    assert [m.variable for m in moved.services["rabbitmq"].ports] == [
        "SPOTCTL_RABBITMQ_PORT", "SPOTCTL_RABBITMQ_MGMT_PORT", "SPOTCTL_RABBITMQ_METRICS_PORT"]


def test_host_view_rewrites_service_names_ports_and_volumes(tmp_path: Path) -> None:
    moved = compose.load(COMPOSE, env={"SPOTCTL_POSTGRES_PORT": "6543"})
    proj = Project(root=ROOT, state_dir=tmp_path)
    env = plan.service_env(moved.services["api"], moved, proj)
    assert env["DATABASE_URL"] == "postgresql://spotify:spotify@127.0.0.1:6543/spotify"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:9092"
    assert env["MEDIA_DIR"] == str(tmp_path / "data" / "volumes" / "media" / "media")
    assert plan.rewrite_value("http://api:8000/health", moved, proj) == "http://127.0.0.1:8000/health"
    assert plan.rewrite_value("mapi:8000", moved, proj) == "mapi:8000"  # only whole host names


def test_unknown_service_is_a_usage_error(project: compose.ComposeProject) -> None:
    from spotctl.errors import UsageError

    with pytest.raises(UsageError, match="unknown service: nope"):
        project.select(["nope"])


def test_dependencies_come_first(project: compose.ComposeProject) -> None:
    order = project.select(["gateway"])
    assert order.index("redis") < order.index("api") < order.index("gateway")


@pytest.mark.parametrize(("test", "expected"), [
    (["CMD", "redis-cli", "ping"], probes.ProbeKind.redis),
    (["CMD-SHELL", "pg_isready -U x"], probes.ProbeKind.postgres),
    (["CMD", "rabbitmq-diagnostics", "-q", "ping"], probes.ProbeKind.amqp),
    (["CMD-SHELL", "/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server localhost:9092"],
     probes.ProbeKind.kafka),
    (["CMD", "curl", "-f", "http://localhost:8000/health"], probes.ProbeKind.http),
    (["CMD", "some-tool"], probes.ProbeKind.tcp),
])
def test_probe_is_derived_from_the_healthcheck_command(test: list[str], expected: probes.ProbeKind) -> None:
    svc = compose.Service(name="s", image="i", build=False, command=(), environment={},
                          ports=(compose.PortMapping(1234, 8000),), healthcheck=compose.HealthCheck(tuple(test)),
                          depends_on=(), profiles=())
    assert probes.derive(svc).kind is expected  # type: ignore[union-attr]


def test_services_wait_for_stores_but_only_for_brokers_to_start(project: compose.ComposeProject) -> None:
    api = project.services["api"]
    assert set(api.depends_on) == {"redis", "postgres", "rabbitmq", "kafka"}
    assert api.started_is_enough == {"rabbitmq", "kafka"}


def test_every_service_declares_a_restart_policy_the_supervisor_understands(project: compose.ComposeProject) -> None:
    from spotctl.stack.supervision import RestartPolicy

    assert [name for name, s in project.services.items() if not s.restart] == []  # said, not defaulted
    for service in project.services.values():
        RestartPolicy.parse(service.restart)  # raises, naming the valid values, on a typo
