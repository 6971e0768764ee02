"""One compose service -> its Kubernetes objects: workload, Service, PodDisruptionBudget, autoscaler.

Pure: a compose `Service` (and the text of the files it bind-mounts) in, plain dicts out. The same
compose fields drive both runtimes and this: `command` becomes the container's args, `environment` its
env (secret-looking values go to the shared Secret), `healthcheck.test` its readiness, liveness and
startup probes (an HTTP URL becomes an httpGet on the same port and path, anything else the same
command run by exec), named volumes claims, files ConfigMaps.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from spotctl.deploy.meta import K8sMeta
from spotctl.stack.compose import ComposeProject, HealthCheck, Service

NAME = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
OPERATOR_NOTE = "spotctl/production-operator"
_SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|_PASS$|TOKEN|CREDENTIAL|PRIVATE_KEY")
_CREDENTIALS_IN_URL = re.compile(r"://[^/@:\s]+:[^/@\s]+@")
# the URL a compose health check fetches inside its container (curl, wget, python urllib, ...)
_HEALTH_URL = re.compile(r"(https?)://(?:localhost|127\.0\.0\.1|0\.0\.0\.0)(?::(\d+))?(/[^\s'\"]*)?")
_PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


@dataclass
class Rendered:
    """What one service adds: its own objects, Secret entries and claims it shares with others."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    shared_claims: dict[str, str] = field(default_factory=dict)   # volume -> storage size
    problems: list[str] = field(default_factory=list)


def kind_of(service: Service, meta: K8sMeta, project: ComposeProject) -> str:
    """deployment | statefulset | daemonset | ingress | skip: x-k8s says, else built here -> Deployment,
    an image keeping data in a named volume -> StatefulSet, any other image -> Deployment."""
    if meta.kind:
        return meta.kind
    if service.build:
        return "deployment"
    return "statefulset" if _named_volumes(service, project) else "deployment"


def _named_volumes(service: Service, project: ComposeProject) -> list[tuple[str, str, bool]]:
    return [v for v in _volume_entries(service) if v[0] in project.volumes]


def _volume_entries(service: Service) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) for each `source:target[:mode]` entry."""
    out = []
    for entry in service.volumes:
        parts = entry.split(":")
        if len(parts) >= 2:
            out.append((parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
    return out


def labels(service: Service, component: str) -> dict[str, str]:
    return {NAME: service.name, COMPONENT: component}


def port_name(service: Service, container_port: int, variable: str | None) -> str:
    """A port's name from the variable that moves it (SPOTCTL_HUB_METRICS_PORT -> hub-metrics)."""
    if variable and variable.startswith("SPOTCTL_") and variable.endswith("_PORT"):
        name = variable[len("SPOTCTL_"):-len("_PORT")].lower().replace("_", "-")
        if len(name) <= 15 and _PORT_NAME.match(name) and not name.isdigit():
            return name
    return f"tcp-{container_port}"


# -- probes --------------------------------------------------------------------------------------------


def probe_handler(health: HealthCheck) -> dict[str, Any] | None:
    """The compose health check as a probe handler: httpGet for a URL on localhost, else exec."""
    test = list(health.test)
    if not test or test[0] == "NONE":
        return None
    form, argv = (test[0], test[1:]) if test[0] in ("CMD", "CMD-SHELL") else ("CMD-SHELL", test)
    url = _HEALTH_URL.search(" ".join(argv))
    if url:
        tls = url.group(1) == "https"
        return {"httpGet": {"path": url.group(3) or "/", "port": int(url.group(2) or (443 if tls else 80)),
                            "scheme": "HTTPS" if tls else "HTTP"}}
    if form == "CMD-SHELL":
        return {"exec": {"command": ["sh", "-c", " ".join(argv)]}}
    return {"exec": {"command": argv}}


def probes(health: HealthCheck | None) -> dict[str, Any]:
    """readiness (compose's interval), liveness (slower, same handler) and startup (compose's whole
    budget: retries x interval + start_period, so a slow first start is not killed as dead)."""
    if health is None or (handler := probe_handler(health)) is None:
        return {}
    period = max(1, math.ceil(health.interval_s))
    timeout = max(1, math.ceil(health.timeout_s))
    startup_tries = health.retries + math.ceil(health.start_period_s / period)
    return {
        "startupProbe": {**handler, "periodSeconds": period, "timeoutSeconds": timeout,
                         "failureThreshold": max(1, startup_tries)},
        "readinessProbe": {**handler, "periodSeconds": period, "timeoutSeconds": timeout, "failureThreshold": 3},
        "livenessProbe": {**handler, "periodSeconds": max(10, period), "timeoutSeconds": timeout,
                          "failureThreshold": 3},
    }


# -- env, files ----------------------------------------------------------------------------------------


def is_secret(key: str, value: str) -> bool:
    return bool(_SECRET_NAME.search(key.upper()) or _CREDENTIALS_IN_URL.search(value))


def secret_name(service: Service) -> str:
    """Each service's own Secret: a pod sees only the credentials its compose environment names."""
    return f"{service.name}-secrets"


def env_list(service: Service, meta: K8sMeta, out: Rendered) -> list[dict[str, Any]]:
    env = []
    for key, value in {**service.environment, **meta.env}.items():
        if is_secret(key, value):
            out.secrets[key] = value
            env.append({"name": key, "valueFrom": {"secretKeyRef": {"name": secret_name(service), "key": key}}})
        else:
            env.append({"name": key, "value": value.replace("$(", "$$(")})  # $(VAR) is kubelet syntax
    return env


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


def _config_map(name: str, entries: Mapping[str, bytes]) -> dict[str, Any]:
    data, binary = {}, {}
    for key, raw in entries.items():
        try:
            data[key] = raw.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(raw).decode()
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    if binary:
        body["binaryData"] = binary
    return body


def _bind_mount(service: Service, source: str, target: str, files: Mapping[str, bytes],
                out: Rendered) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A file or folder next to the compose file -> a ConfigMap, its pod volume and the mount."""
    rel = PurePosixPath(source)
    if source.startswith("/") or ".." in rel.parts:
        out.problems.append(f"{service.name}: bind mount {source} is outside the compose folder; Kubernetes "
                            "cannot mount a host path: ship it in the image or give the service x-k8s kind")
        return None
    key = rel.as_posix()
    name = _slug(f"{service.name}-{rel.name}")
    if key in files:  # one file, mounted by subPath so the rest of the folder stays the image's
        out.objects.append(_config_map(name, {rel.name: files[key]}))
        return ({"name": name, "configMap": {"name": name}},
                {"name": name, "mountPath": target, "subPath": rel.name, "readOnly": True})
    inside = {k[len(key) + 1:]: v for k, v in files.items() if k.startswith(key + "/")}
    if not inside:
        out.problems.append(f"{service.name}: bind mount {source} does not exist next to the compose file")
        return None
    flat = {k.replace("/", "__"): v for k, v in sorted(inside.items())}  # ConfigMap keys have no '/'
    out.objects.append(_config_map(name, flat))
    items = [{"key": k.replace("/", "__"), "path": k} for k in sorted(inside)]
    return ({"name": name, "configMap": {"name": name, "items": items}},
            {"name": name, "mountPath": target, "readOnly": True})


# -- the workload ----------------------------------------------------------------------------------------


def render(service: Service, meta: K8sMeta, kind: str, project: ComposeProject,
           files: Mapping[str, bytes], image: str) -> Rendered:
    """Objects for a deployment / statefulset / daemonset service (ingress is gateway.py's)."""
    out = Rendered()
    component = "store" if kind == "statefulset" else "app"
    container = _container(service, meta, kind, image, out)
    volumes, claims = _volumes(service, meta, kind, project, files, container, out)
    api_kind = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet"}[kind]
    out.objects.append(_workload(service, meta, kind, api_kind, component, container, volumes, claims))
    selector = {NAME: service.name}
    if ports := container.get("ports"):
        svc_spec: dict[str, Any] = {"selector": selector, "ports": [
            {"name": p["name"], "port": p["containerPort"], "targetPort": p["name"], "protocol": "TCP"}
            for p in ports]}
        if kind == "statefulset":
            svc_spec = {"clusterIP": "None", **svc_spec}  # headless: stable per-pod names
        out.objects.append({"apiVersion": "v1", "kind": "Service",
                            "metadata": {"name": service.name, "labels": labels(service, component)},
                            "spec": svc_spec})
    if kind != "daemonset":
        out.objects.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                            "metadata": {"name": service.name, "labels": labels(service, component)},
                            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}}})
    if meta.autoscale is not None:
        out.objects.append(autoscaler(service.name, api_kind, meta))
    return out


def _container(service: Service, meta: K8sMeta, kind: str, image: str, out: Rendered) -> dict[str, Any]:
    container: dict[str, Any] = {"name": service.name, "image": image}
    if service.build:
        container["imagePullPolicy"] = "IfNotPresent"  # dev clusters load the image built here
    if service.command:
        container["args"] = list(service.command)  # compose `command` replaces CMD, as args do
    if env := env_list(service, meta, out):
        container["env"] = env
    if out.secrets:
        out.objects.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                            "metadata": {"name": secret_name(service), "labels": {NAME: service.name}},
                            "stringData": dict(out.secrets)})
    ports = [{"name": port_name(service, p.container, p.variable), "containerPort": p.container,
              "protocol": "TCP"} for p in service.ports]
    if ports:
        container["ports"] = ports
    container.update(probes(service.healthcheck))
    if meta.resources:
        container["resources"] = meta.resources
    if ports and kind == "deployment" and meta.prestop_sleep_s:
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": meta.prestop_sleep_s}}}
    return container


def _volumes(service: Service, meta: K8sMeta, kind: str, project: ComposeProject, files: Mapping[str, bytes],
             container: dict[str, Any], out: Rendered) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pod volumes and claim templates; mounts go on the container."""
    volumes, mounts, claims = [], [], []
    for source, target, read_only in _volume_entries(service):
        if source in project.volumes:
            mounts.append({"name": source, "mountPath": target, **({"readOnly": True} if read_only else {})})
            if kind == "statefulset":
                claims.append({"metadata": {"name": source}, "spec": {
                    "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": meta.storage}}}})
            else:  # shared by the Deployments that mount it: one claim, read-write-many
                out.shared_claims.setdefault(source, meta.storage)
                volumes.append({"name": source, "persistentVolumeClaim": {"claimName": source}})
        elif (bound := _bind_mount(service, source, target, files, out)) is not None:
            volumes.append(bound[0])
            mounts.append(bound[1])
    if mounts:
        container["volumeMounts"] = mounts
    return volumes, claims


def _workload(service: Service, meta: K8sMeta, kind: str, api_kind: str, component: str,
              container: dict[str, Any], volumes: list[dict[str, Any]],
              claims: list[dict[str, Any]]) -> dict[str, Any]:
    pod_meta: dict[str, Any] = {"labels": labels(service, component)}
    if meta.metrics:
        pod_meta["annotations"] = {"prometheus.io/scrape": "true", "prometheus.io/port": str(meta.metrics.port),
                                   "prometheus.io/path": meta.metrics.path}
    pod_spec: dict[str, Any] = {"containers": [container]}
    if volumes:
        pod_spec["volumes"] = volumes
    if meta.termination_grace_s:
        pod_spec["terminationGracePeriodSeconds"] = meta.termination_grace_s
    spec: dict[str, Any] = {"selector": {"matchLabels": {NAME: service.name}},
                            "template": {"metadata": pod_meta, "spec": pod_spec}}
    if kind != "daemonset" and meta.autoscale is None:
        spec = {"replicas": meta.replicas, **spec}  # with an autoscaler, the HPA owns the count
    if kind == "statefulset":
        spec = {"serviceName": service.name, **spec}
        if claims:
            spec["volumeClaimTemplates"] = claims
    workload_meta: dict[str, Any] = {"name": service.name, "labels": labels(service, component)}
    if meta.operator:
        workload_meta["annotations"] = {OPERATOR_NOTE: meta.operator}
    return {"apiVersion": "apps/v1", "kind": api_kind, "metadata": workload_meta, "spec": spec}


def autoscaler(name: str, api_kind: str, meta: K8sMeta) -> dict[str, Any]:
    """On a per-pod custom metric; scale-down one pod per 2 min after 10 min calm, because every pod
    removed sends its clients reconnecting to the others (the hub drains on SIGTERM)."""
    scale = meta.autoscale
    assert scale is not None
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "labels": {NAME: name}},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": api_kind, "name": name},
                     "minReplicas": scale.min, "maxReplicas": scale.max,
                     "metrics": [{"type": "Pods", "pods": {
                         "metric": {"name": scale.metric},
                         "target": {"type": "AverageValue", "averageValue": str(scale.average)}}}],
                     "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600, "policies": [
                         {"type": "Pods", "value": 1, "periodSeconds": 120}]}}}}
