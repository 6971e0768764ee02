"""Every list of services is derived from the compose file: a service added there needs no edit elsewhere."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from spotctl.project import Project
from spotctl.stack import compose, plan

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose" / "compose.yaml"


@pytest.fixture
def grown(tmp_path: Path) -> Path:
    """The project's compose file plus one new service: a metrics store with a URL and a port variable."""
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    doc["services"]["tsdb"] = {
        "image": "tsdb:1", "profiles": ["core"], "ports": ["${SPOTCTL_TSDB_PORT:-8086}:8086"],
        "healthcheck": {"test": ["CMD", "wget", "-qO-", "http://localhost:8086/ping"]},
        "x-local": {"driver": "redis"}, "x-endpoints": {"TSDB_URL": "http://tsdb:8086"},
    }
    doc["x-sandbox"]["environment"]["TSDB_WRITE_URL"] = "http://tsdb:8086/write"
    for name in ("api", "hub", "workers"):
        doc["services"][name]["environment"]["TSDB_WRITE_URL"] = "http://tsdb:8086/write"
    (tmp_path / "compose").mkdir()
    for item in (COMPOSE.parent).iterdir():  # templates and config the file points at
        if item.name != "compose.yaml":
            (tmp_path / "compose" / item.name).symlink_to(item)
    path = tmp_path / "compose" / "compose.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_client_urls_and_the_services_answering_them_come_from_compose(tmp_path: Path) -> None:
    stack = compose.load(COMPOSE, env={"SPOTCTL_RABBITMQ_MGMT_PORT": "1567"})
    view = plan.client_view(stack, Project(root=ROOT, state_dir=tmp_path))
    assert view.env["RABBITMQ_MGMT_URL"] == "http://guest:guest@127.0.0.1:1567"  # x-endpoints, rewritten
    assert view.services["RABBITMQ_MGMT_URL"] == "rabbitmq" and view.services["SMTP_URL"] == "workers"
    assert view.services["DATABASE_URL"] == "postgres" and "JWT_SECRET" not in view.services
    assert plan.client_keys(stack)[-3:] == plan.CLIENT_SETTINGS
    assert plan.backing_services(stack) == ["redis", "postgres", "rabbitmq", "kafka", "mongo", "influxdb",
                                            "elasticsearch"]


def test_a_new_service_is_dialled_probed_and_given_a_test_port_without_code_edits(grown: Path) -> None:
    stack = compose.load(grown, env={"SPOTCTL_TSDB_PORT": "18086"})
    view = plan.client_view(stack, Project(root=grown.parents[1], state_dir=grown.parents[1] / ".state"))
    assert view.env["TSDB_URL"] == "http://127.0.0.1:18086" and view.services["TSDB_URL"] == "tsdb"
    assert "tsdb" in plan.backing_services(stack)  # the sandbox writes to it: the tests start it up front
    assert "SPOTCTL_TSDB_PORT" in [m.variable for svc in stack.services.values() for m in svc.ports]


def test_config_and_doctor_list_what_the_compose_file_holds(cli: Any, grown: Path) -> None:
    env = {**os.environ, "SPOTCTL_PROJECT_DIR": str(grown.parents[1]),
           "SPOTCTL_STATE_DIR": str(grown.parents[1] / ".state")}
    config = cli("config", "-o", "json", env=env)
    assert config.returncode == 0, config.stderr
    assert json.loads(config.stdout)["endpoints"]["TSDB_URL"] == "http://127.0.0.1:8086"
    doctor = json.loads(cli("doctor", "-o", "json", env=env).stdout)
    assert "tsdb (redis)" in [c["name"] for c in doctor]


def test_the_tui_screens_are_listed_from_the_tuis_own_table(cli: Any) -> None:
    from spotctl.tui.modes import NAMES

    wrong = cli("tui", "--screen", "nope")
    assert wrong.returncode == 2 and f"use one of: {', '.join(NAMES)}" in wrong.stderr


def test_up_prints_the_compose_files_links_of_healthy_services_without_credentials() -> None:
    from spotctl.endpoints import links

    stack = compose.load(ROOT / "compose" / "compose.yaml")
    env = {"API_URL": "http://127.0.0.1:8000", "RABBITMQ_MGMT_URL": "http://guest:guest@127.0.0.1:15672",
           "PROMETHEUS_URL": "http://127.0.0.1:9090"}
    shown = dict(links(stack.services, env, healthy={"api", "rabbitmq", "prometheus", "hub"}))
    assert shown == {"API docs": "http://127.0.0.1:8000/docs",
                     "RabbitMQ UI (guest/guest)": "http://127.0.0.1:15672",
                     "Prometheus": "http://127.0.0.1:9090"}  # the hub's URL is not set here: left out
    assert links(stack.services, env, healthy=set()) == []
