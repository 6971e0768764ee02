"""What `spotctl deploy validate` asks of built manifests: the schema, then that the objects fit together.

The schema is the Kubernetes OpenAPI schema for one pinned version, strict (an unknown field is an
error), as `kubernetes-validate` ships it: no cluster and no network. The reference checks are what a
schema cannot see: a Service that selects no pod, a probe-less container, an autoscaler aiming at
nothing, an Ingress backend port no Service has. Each returns messages; empty means valid.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

KUBERNETES_VERSION = "1.32.0"  # the schema the manifests are checked against (kubectl here is 1.32)
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


def label(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind', '?')}/{(obj.get('metadata') or {}).get('name', '?')}"


def schema_errors(objects: Iterable[dict[str, Any]], version: str = KUBERNETES_VERSION) -> list[str]:
    try:
        import kubernetes_validate
    except ImportError:
        from spotctl.errors import SpotctlError

        raise SpotctlError("kubernetes-validate is not installed: cannot check the Kubernetes schemas",
                           hint="pip install kubernetes-validate (it is in spotctl's dev extras)") from None

    errors = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            errors.append(f"{label(obj)}: {where or '<root>'}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{label(obj)}: no {obj.get('apiVersion')} {obj.get('kind')} in Kubernetes {version}")
    return errors


def _pod_templates(objects: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(o, o["spec"]["template"]) for o in objects if o.get("kind") in WORKLOADS]


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _ports(template: dict[str, Any]) -> dict[str, int]:
    return {p.get("name", str(p["containerPort"])): p["containerPort"]
            for c in template["spec"]["containers"] for p in c.get("ports", [])}


def reference_errors(objects: list[dict[str, Any]], secrets_external: bool = False) -> list[str]:
    """Cross-object mistakes; `secrets_external`: Secrets come from the cluster (prod), not the tree."""
    names = {(o.get("kind"), o["metadata"]["name"]) for o in objects}
    pods = _pod_templates(objects)
    services = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "Service"}
    errors: list[str] = []
    for workload, template in pods:
        errors += _workload_errors(workload, template, names, secrets_external)
    for svc in services.values():
        errors += _service_errors(svc, pods)
    for obj in objects:
        errors += _target_errors(obj, names, pods, services)
    return errors


def _workload_errors(workload: dict[str, Any], template: dict[str, Any], names: set[tuple[Any, str]],
                     secrets_external: bool) -> list[str]:
    errors = []
    pod_labels = template.get("metadata", {}).get("labels", {})
    if not _selects(workload["spec"]["selector"].get("matchLabels", {}), pod_labels):
        errors.append(f"{label(workload)}: its selector does not match its pod template's labels")
    for container in template["spec"]["containers"]:
        errors += [f"{label(workload)}: container {container['name']} has no {probe}"
                   for probe in ("readinessProbe", "livenessProbe") if probe not in container]
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref and not secrets_external and ("Secret", ref["name"]) not in names and not ref.get("optional"):
                errors.append(f"{label(workload)}: env {env['name']} reads Secret {ref['name']}, which is "
                              "not among the manifests (prod: create it in the cluster, see docs/kubernetes.md)")
    for volume in template["spec"].get("volumes", []):
        if (claim := volume.get("persistentVolumeClaim")) and ("PersistentVolumeClaim",
                                                               claim["claimName"]) not in names:
            errors.append(f"{label(workload)}: claim {claim['claimName']} does not exist")
        if (cm := volume.get("configMap")) and ("ConfigMap", cm["name"]) not in names:
            errors.append(f"{label(workload)}: ConfigMap {cm['name']} does not exist")
    return errors


def _service_errors(svc: dict[str, Any], pods: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    matched = [t for _, t in pods if _selects(svc["spec"].get("selector", {}),
                                               t.get("metadata", {}).get("labels", {}))]
    if not matched:
        return [f"{label(svc)}: its selector matches no pod"]
    errors = []
    for port in svc["spec"].get("ports", []):
        target = port.get("targetPort", port["port"])
        if not any(target in _ports(t) or target in _ports(t).values() for t in matched):
            errors.append(f"{label(svc)}: port {port['port']} targets {target}, which its pods do not expose")
    return errors


def _target_errors(obj: dict[str, Any], names: set[tuple[Any, str]],
                   pods: list[tuple[dict[str, Any], dict[str, Any]]], services: dict[str, Any]) -> list[str]:
    """Autoscalers, disruption budgets and Ingresses point at something that exists."""
    kind = obj.get("kind")
    if kind == "HorizontalPodAutoscaler":
        ref = obj["spec"]["scaleTargetRef"]
        if (ref["kind"], ref["name"]) not in names:
            return [f"{label(obj)}: scales {ref['kind']}/{ref['name']}, which does not exist"]
    elif kind == "PodDisruptionBudget":
        selector = obj["spec"]["selector"].get("matchLabels", {})
        if not any(_selects(selector, t.get("metadata", {}).get("labels", {})) for _, t in pods):
            return [f"{label(obj)}: its selector matches no pod"]
    elif kind == "Ingress":
        errors = []
        for rule in obj["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                svc = services.get(backend["name"])
                numbers = {p["port"] for p in svc["spec"]["ports"]} if svc else set()
                if backend["port"].get("number") not in numbers:
                    errors.append(f"{label(obj)}: {path['path']} goes to {backend['name']}:"
                                  f"{backend['port'].get('number')}, which no Service offers")
        return errors
    return []
