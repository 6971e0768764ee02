"""Kubernetes manifests rendered from the real compose file, built with `kubectl kustomize` (offline) and
checked against the Kubernetes 1.32 schema with kubernetes-validate; no cluster, no network."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spotctl.deploy import bundle, checks
from spotctl.stack import compose

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed")
ROOT = Path(__file__).resolve().parents[2]
COMPOSE = compose.load(ROOT / "compose" / "compose.yaml", env={})
Cli = Callable[..., Any]


@pytest.fixture(scope="module")
def tree(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("k8s")
    result = cli("deploy", "render", "--out", str(out), "--registry", "ghcr.io/acme", "--tag", "1.2.3",
                     "--host", "music.example.org", "-o", "json")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def dev(tree: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in bundle.build(tree / "overlays" / "dev")}


@pytest.fixture(scope="module")
def prod(tree: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in bundle.build(tree / "overlays" / "prod")}


def container(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj["spec"]["template"]["spec"]["containers"][0])


def test_every_object_of_both_overlays_validates_against_the_pinned_kubernetes(cli: Cli, tree: Path) -> None:
    result = cli("deploy", "validate", "--dir", str(tree), "-o", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["kubernetes_version"] == checks.KUBERNETES_VERSION == "1.32.0"
    assert {r["overlay"]: r["errors"] for r in report["overlays"]} == {"dev": [], "prod": []}
    assert all(r["objects"] > 20 for r in report["overlays"])


def test_stores_are_statefulsets_with_claims_and_name_their_production_operator(dev: dict[Any, Any]) -> None:
    stores = [n for n, s in COMPOSE.services.items() if not s.build and any(
        v.split(":")[0] in COMPOSE.volumes for v in s.volumes)
        and (s.extensions.get("x-k8s") or {}).get("kind") != "skip"]  # the redis-cluster profile: an operator's
    assert {"redis", "postgres", "rabbitmq", "kafka"} <= set(stores)
    assert not any(name.startswith("redis-node") for kind, name in dev)
    for name in stores:
        sts = dev[("StatefulSet", name)]
        volume = next(v.split(":") for v in COMPOSE.services[name].volumes if v.split(":")[0] in COMPOSE.volumes)
        assert [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]] == [volume[0]]
        assert {"name": volume[0], "mountPath": volume[1]} in container(sts)["volumeMounts"]
        assert dev[("Service", name)]["spec"]["clusterIP"] == "None"  # headless: the StatefulSet's names
    assert "CloudNativePG" in dev[("StatefulSet", "postgres")]["metadata"]["annotations"][
        "spotctl/production-operator"]


@pytest.mark.parametrize("name", ["api", "hub", "workers"])
def test_services_built_here_are_deployments_probed_on_their_compose_health_endpoint(
        dev: dict[Any, Any], name: str) -> None:
    c = container(dev[("Deployment", name)])
    test = " ".join(COMPOSE.services[name].healthcheck.test)  # type: ignore[union-attr]
    handler = c["readinessProbe"]["httpGet"]
    assert f"http://localhost:{handler['port']}{handler['path']}" in test
    assert c["livenessProbe"]["httpGet"] == c["startupProbe"]["httpGet"] == handler
    assert c["args"] == list(COMPOSE.services[name].command)


def test_the_hub_scales_on_connections_per_pod_and_has_time_to_drain(dev: dict[Any, Any],
                                                                     prod: dict[Any, Any]) -> None:
    hpa = prod[("HorizontalPodAutoscaler", "hub")]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hub"}
    assert hpa["metrics"] == [{"type": "Pods", "pods": {"metric": {"name": "hub_connections"},
                                                         "target": {"type": "AverageValue",
                                                                    "averageValue": "20000"}}}]
    assert (hpa["minReplicas"], dev[("HorizontalPodAutoscaler", "hub")]["spec"]["minReplicas"]) == (3, 1)
    assert "replicas" not in prod[("Deployment", "hub")]["spec"]  # the autoscaler owns the count
    pod = prod[("Deployment", "hub")]["spec"]["template"]
    # SIGTERM -> the hub sends `reconnect` and closes within HUB_SHUTDOWN_GRACE (5 s), the supervisor
    # kills stragglers 5 s later: the pod's grace must cover preStop + both
    assert pod["spec"]["terminationGracePeriodSeconds"] >= container({"spec": {"template": pod}})[
        "lifecycle"]["preStop"]["sleep"]["seconds"] + 5 + 5
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "9765"


def test_every_workload_has_a_disruption_budget(prod: dict[Any, Any]) -> None:
    workloads = {n for (k, n) in prod if k in ("Deployment", "StatefulSet")}
    budgets = {n for (k, n) in prod if k == "PodDisruptionBudget"}
    assert workloads and workloads == budgets


def test_the_gateway_is_an_ingress_with_the_routes_of_its_nginx_template(prod: dict[Any, Any]) -> None:
    ingress = prod[("Ingress", "gateway")]
    paths = {p["path"]: (p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"])
             for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths["/ws"] == ("hub", 8765) and paths["/api/"] == ("api", 8000)
    assert ingress["spec"]["rules"][0]["host"] == "music.example.org"
    assert ingress["spec"]["tls"] == [{"hosts": ["music.example.org"], "secretName": "gateway-tls"}]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert ("Deployment", "gateway") not in prod and ("StatefulSet", "gateway") not in prod


def test_prod_ships_no_credentials_and_runs_the_released_image(dev: dict[Any, Any], prod: dict[Any, Any]) -> None:
    assert [n for (k, n) in prod if k == "Secret"] == []
    assert dev[("Secret", "api-secrets")]["stringData"]["JWT_SECRET"].startswith("dev-only")
    env = {e["name"]: e for e in container(prod[("Deployment", "api")])["env"]}
    assert env["JWT_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "api-secrets", "key": "JWT_SECRET"}
    assert env["REDIS_URL"] == {"name": "REDIS_URL", "value": "redis://redis:6379/0"}
    assert container(prod[("Deployment", "api")])["image"] == "ghcr.io/acme/spotctl-sandbox:1.2.3"
    assert (prod[("Deployment", "api")]["spec"]["replicas"], dev[("Deployment", "api")]["spec"]["replicas"]) == (3, 1)
    assert {o["metadata"]["namespace"] for k, o in prod.items() if k[0] != "Namespace"} == {"spotctl"}


def test_validate_names_what_is_wrong_in_an_edited_tree(cli: Cli, tree: Path, tmp_path: Path) -> None:
    broken = tmp_path / "k8s"
    shutil.copytree(tree, broken)
    hub = broken / "base" / "hub.yaml"
    text = hub.read_text()
    hub.write_text(text.replace("        readinessProbe:", "        readinesProbe:", 1)
                   .replace("targetPort: hub-metrics", "targetPort: metrics", 1))
    result = cli("deploy", "validate", "--dir", str(broken))
    assert result.returncode == 1
    assert "Deployment/hub: spec.template.spec.containers.0: Additional properties" in result.stderr
    assert "Deployment/hub: container hub has no readinessProbe" in result.stderr
    assert "Service/hub: port 9765 targets metrics, which its pods do not expose" in result.stderr


def test_render_leaves_files_it_did_not_write_alone(cli: Cli, tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    shutil.copytree(tree, out)
    (out / "base" / "mine.yaml").write_text("kind: ConfigMap\n")
    result = cli("deploy", "render", "--out", str(out))
    assert result.returncode == 1 and "mine.yaml was not written by `spotctl deploy render`" in result.stderr
    assert (out / "base" / "mine.yaml").read_text() == "kind: ConfigMap\n"
