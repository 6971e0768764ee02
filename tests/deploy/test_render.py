"""The pure renderer on compose files of the test's own: services it has never seen render by the
generic rules, and mistakes in the compose file are named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spotctl.deploy import checks, gateway
from spotctl.deploy.render import render
from spotctl.errors import SpotctlError
from spotctl.stack import compose

NEW_SERVICES = """
name: shop
services:
  influxdb:
    image: influxdb:1.8
    environment: {INFLUXDB_ADMIN_PASSWORD: secret, INFLUXDB_DB: metrics}
    ports: ["${SPOTCTL_INFLUXDB_PORT:-8086}:8086"]
    volumes: [influx-data:/var/lib/influxdb, ./influx/influxdb.conf:/etc/influxdb/influxdb.conf:ro]
    healthcheck: {test: ["CMD", "curl", "-f", "http://localhost:8086/ping"], interval: 5s, retries: 10}
  exporter:
    image: prom/statsd-exporter:v0.26.0
    ports: ["9102:9102"]
    healthcheck: {test: "wget -qO- localhost:9102/ || exit 1", interval: 1s}
  analytics:
    build: {context: ., dockerfile: Dockerfile}
    image: shop-analytics:dev
    command: ["python", "-m", "shop.analytics"]
    environment: {INFLUX_URL: "http://admin:pw@influxdb:8086"}
    volumes: [reports:/reports]
volumes:
  influx-data:
  reports:
"""


def load(tmp_path: Path, text: str) -> compose.ComposeProject:
    (tmp_path / "compose.yaml").write_text(text)
    return compose.load(tmp_path / "compose.yaml", env={})


def objects(tree: dict[str, list[dict[str, Any]]], prefix: str = "base/") -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for path, docs in tree.items()
            if path.startswith(prefix) and not path.endswith("kustomization.yaml") for o in docs}


def test_services_never_seen_render_by_the_generic_rules_and_validate(tmp_path: Path) -> None:
    tree = render(load(tmp_path, NEW_SERVICES), {"influx/influxdb.conf": b"[meta]\n  dir = '/var/lib/influxdb'\n"})
    base = objects(tree)
    influx = base[("StatefulSet", "influxdb")]
    pod = influx["spec"]["template"]["spec"]
    assert influx["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "influx-data"
    assert pod["containers"][0]["readinessProbe"]["httpGet"] == {"path": "/ping", "port": 8086, "scheme": "HTTP"}
    assert base[("ConfigMap", "influxdb-influxdb-conf")]["data"] == \
        {"influxdb.conf": "[meta]\n  dir = '/var/lib/influxdb'\n"}
    assert base[("Secret", "influxdb-secrets")]["stringData"] == {"INFLUXDB_ADMIN_PASSWORD": "secret"}
    # a shell-form check with no URL scheme runs as it is, by exec
    assert base[("Deployment", "exporter")]["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["exec"] == \
        {"command": ["sh", "-c", "wget -qO- localhost:9102/ || exit 1"]}
    analytics = base[("Deployment", "analytics")]["spec"]["template"]["spec"]
    assert analytics["volumes"] == [{"name": "reports", "persistentVolumeClaim": {"claimName": "reports"}}]
    assert base[("PersistentVolumeClaim", "reports")]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert analytics["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["key"] == "INFLUX_URL"
    assert ("Service", "analytics") not in base  # no ports, no Service
    everything = list(base.values())
    assert checks.schema_errors(everything) == []
    # analytics has no health check in compose: the reference check says so instead of inventing one
    assert checks.reference_errors(everything) == [
        "Deployment/analytics: container analytics has no readinessProbe",
        "Deployment/analytics: container analytics has no livenessProbe"]


def test_a_typo_in_x_k8s_is_named(tmp_path: Path) -> None:
    project = load(tmp_path, NEW_SERVICES.replace("    image: influxdb:1.8\n",
                                                  "    image: influxdb:1.8\n    x-k8s: {replica: 2}\n"))
    with pytest.raises(SpotctlError, match=r"influxdb: bad x-k8s in the compose file: replica: Extra inputs"):
        render(project, {"influx/influxdb.conf": b""})


def test_a_missing_or_host_bind_mount_is_named_with_every_other_problem(tmp_path: Path) -> None:
    text = NEW_SERVICES.replace("[reports:/reports]", "[reports:/reports, /etc/ssl:/etc/ssl:ro]")
    with pytest.raises(SpotctlError) as caught:
        render(load(tmp_path, text), {})
    assert "influxdb: bind mount ./influx/influxdb.conf does not exist next to the compose file" in caught.value.message
    assert "analytics: bind mount /etc/ssl is outside the compose folder" in caught.value.message


def test_ingress_routes_come_from_the_template_upstreams_and_the_gateway_env() -> None:
    template = """
    upstream api_upstream { server ${API_UPSTREAM}; keepalive 32; }
    upstream static_upstream { server cdn:8081; }
    server { listen 80;
      location = /healthz { return 200; }
      location /api/ { proxy_pass http://api_upstream; proxy_read_timeout 90s; }
      location = /favicon.ico { proxy_pass http://static_upstream; }
    }"""
    assert gateway.routes(template, {"API_UPSTREAM": "api:8000"}) == [
        ("/api/", "Prefix", "api", 8000), ("/favicon.ico", "Exact", "cdn", 8081)]
