"""compose model in, kustomize tree out: a base with every service, and dev and prod overlays.

Pure: `render(project, files, options)` returns {relative path: [documents]} and touches nothing;
`spotctl deploy render` writes it (bundle.py). Nothing here names a service: every service of the
compose file renders by the rules in workloads.py / gateway.py and its own `x-k8s` (meta.py), so a
service added to compose appears in the manifests without a change here.

Overlays:
- dev: one replica of everything (the autoscaler 1..2), claims read-write-once (one-node clusters
  have no shared storage), the locally built image as it is, host `options.dev_host`.
- prod: replicas, storage, resources and autoscaler bounds from each service's `x-k8s.prod`, the
  built image from `options.registry` at `options.tag`, TLS from cert-manager, and no Secrets: the
  dev credentials of the base are deleted, the cluster's secret manager provides `<service>-secrets`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spotctl.deploy import gateway, meta, workloads
from spotctl.errors import SpotctlError
from spotctl.stack.compose import ComposeProject, Service

Bundle = dict[str, list[dict[str, Any]]]
KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
PART_OF = {"app.kubernetes.io/part-of": "spotctl"}


@dataclass(frozen=True)
class Options:
    registry: str = "registry.example.com/spotctl"
    tag: str = "0.1.0"
    dev_host: str = "spotctl.localtest.me"
    prod_host: str = "spotctl.example.com"
    cluster_issuer: str = "letsencrypt-prod"
    dev_namespace: str = "spotctl-dev"
    prod_namespace: str = "spotctl"


@dataclass(frozen=True)
class _Unit:
    """One rendered service, kept for the overlays."""

    service: Service
    meta: meta.K8sMeta
    kind: str
    objects: list[dict[str, Any]]


def image_name(image: str) -> str:
    """`registry:5000/name:tag` -> `registry:5000/name` (kustomize matches images without the tag)."""
    head, _, last = image.rpartition("/")
    return (f"{head}/" if head else "") + last.split(":")[0].split("@")[0]


def render(project: ComposeProject, files: Mapping[str, bytes], options: Options | None = None) -> Bundle:
    """The kustomize tree for `project`; a SpotctlError lists every problem at once."""
    options = options or Options()
    units: list[_Unit] = []
    claims: dict[str, str] = {}
    built: set[str] = set()
    problems: list[str] = []
    for name, service in project.services.items():
        info = meta.parse(name, service.extensions)
        kind = workloads.kind_of(service, info, project)
        if kind == "skip":
            continue
        if kind == "ingress":
            template = service.local.get("template")
            key = str(template).removeprefix("./") if template else ""
            rendered = gateway.render(service, files[key].decode() if key in files else None)
        else:
            image = service.image or f"{project.name}-{name}"
            if service.build:
                built.add(image_name(image))
            rendered = workloads.render(service, info, kind, project, files, image)
            for volume, size in rendered.shared_claims.items():
                claims.setdefault(volume, size)
        problems += rendered.problems
        units.append(_Unit(service, info, kind, rendered.objects))
    if problems:
        raise SpotctlError("cannot render Kubernetes manifests: " + "; ".join(problems),
                           hint="fix the compose file (see docs/kubernetes.md)")
    bundle: Bundle = {f"base/{u.service.name}.yaml": u.objects for u in units}
    if claims:
        bundle["base/volumes.yaml"] = [_claim(v, size) for v, size in sorted(claims.items())]
    bundle["base/kustomization.yaml"] = [{**KUSTOMIZATION, "labels": [{"pairs": PART_OF, "includeSelectors": False,
                                                                       "includeTemplates": True}],
                                          "resources": sorted(p.removeprefix("base/") for p in bundle)}]
    bundle.update(_overlay("dev", units, claims, built, options))
    bundle.update(_overlay("prod", units, claims, built, options))
    bundle["extras/prometheus-adapter-values.yaml"] = [adapter_values(units)]
    return bundle


def _claim(volume: str, size: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": volume},
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": size}}}}


def _merge(into: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _overlay(name: str, units: list[_Unit], claims: dict[str, str], built: set[str],
             options: Options) -> Bundle:
    prod = name == "prod"
    patches: dict[tuple[str, str], dict[str, Any]] = {}
    wanted = [p for unit in units for obj in unit.objects for p in _patches(unit, obj, prod, options)]
    if not prod:  # one-node dev clusters have no read-write-many storage
        wanted += [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": volume},
                    "spec": {"accessModes": ["ReadWriteOnce"]}} for volume in claims]
    for doc in wanted:
        key = (doc["kind"], doc["metadata"]["name"])
        if key in patches:
            _merge(patches[key], doc)
        else:
            patches[key] = doc
    namespace = options.prod_namespace if prod else options.dev_namespace
    folder = f"overlays/{name}"
    files = {f"patches/{kind.lower()}-{obj}.yaml": [doc] for (kind, obj), doc in sorted(patches.items())}
    kustomization: dict[str, Any] = {**KUSTOMIZATION, "namespace": namespace,
                                     "resources": ["../../base", "namespace.yaml"]}
    if files:
        kustomization["patches"] = [{"path": path} for path in files]
    if prod and built:
        kustomization["images"] = [{"name": image, "newName": f"{options.registry}/{image.rpartition('/')[2]}",
                                    "newTag": options.tag} for image in sorted(built)]
    out: Bundle = {f"{folder}/{path}": docs for path, docs in files.items()}
    out[f"{folder}/namespace.yaml"] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}]
    out[f"{folder}/kustomization.yaml"] = [kustomization]
    return out


def _patches(unit: _Unit, obj: dict[str, Any], prod: bool, options: Options) -> list[dict[str, Any]]:
    """Strategic-merge patches one overlay makes to one base object."""
    over = unit.meta.overlay("prod" if prod else "dev")
    kind, spec = obj["kind"], obj.get("spec", {})
    head = {"apiVersion": obj["apiVersion"], "kind": kind, "metadata": {"name": obj["metadata"]["name"]}}
    bodies: list[dict[str, Any]] = []
    if kind in ("Deployment", "StatefulSet") and "replicas" in spec:
        replicas = over.replicas if over.replicas is not None else (None if prod else 1)
        if replicas is not None and replicas != spec["replicas"]:
            bodies.append({"spec": {"replicas": replicas}})
    if kind in ("Deployment", "StatefulSet", "DaemonSet") and over.resources:
        bodies.append({"spec": {"template": {"spec": {"containers": [
            {"name": unit.service.name, "resources": over.resources}]}}}})
    if kind == "StatefulSet" and over.storage and spec.get("volumeClaimTemplates"):
        bodies.append({"spec": {"volumeClaimTemplates": [  # a list without merge key: given whole
            {**t, "spec": {**t["spec"], "resources": {"requests": {"storage": over.storage}}}}
            for t in spec["volumeClaimTemplates"]]}})
    if kind == "HorizontalPodAutoscaler":
        bounds = {"minReplicas": over.autoscale_min or (None if prod else 1),
                  "maxReplicas": over.autoscale_max or (None if prod else 2)}
        if any(bounds.values()):
            bodies.append({"spec": {k: v for k, v in bounds.items() if v is not None}})
    if kind == "Ingress":
        bodies.append(_ingress(obj, options, prod))
    if kind == "Secret" and prod:
        bodies.append({"$patch": "delete"})
    return [{**head, **body, "metadata": {**head["metadata"], **body.get("metadata", {})}} for body in bodies]


def _ingress(obj: dict[str, Any], options: Options, prod: bool) -> dict[str, Any]:
    host = options.prod_host if prod else options.dev_host
    spec = obj["spec"]
    body: dict[str, Any] = {"spec": {"rules": [{**rule, "host": host} for rule in spec["rules"]]}}
    if "tls" in spec:
        body["spec"]["tls"] = [{**tls, "hosts": [host]} for tls in spec["tls"]]
        if prod:
            body["metadata"] = {"annotations": {"cert-manager.io/cluster-issuer": options.cluster_issuer}}
    return body


def adapter_values(units: list[_Unit]) -> dict[str, Any]:
    """Helm values for prometheus-community/prometheus-adapter: each autoscaled metric, per pod."""
    rules = []
    for metric in sorted({u.meta.autoscale.metric for u in units if u.meta.autoscale is not None}):
        rules.append({"seriesQuery": f'{metric}{{namespace!="",pod!=""}}',
                      "resources": {"overrides": {"namespace": {"resource": "namespace"},
                                                  "pod": {"resource": "pod"}}},
                      "name": {"matches": f"^{metric}$", "as": metric},
                      "metricsQuery": "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"})
    return {"rules": {"default": False, "custom": rules}}
