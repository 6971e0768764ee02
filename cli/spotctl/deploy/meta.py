"""`x-k8s`: what a compose service says about Kubernetes where compose itself has no field.

Everything is optional: a service without `x-k8s` still renders (built here -> Deployment, an image
with a named volume -> StatefulSet, any other image -> Deployment). The model forbids unknown keys so
a typo in the compose file is an error that names it, not a setting silently ignored.

    x-k8s:
      replicas: 2                       # base replica count (overlays may change it)
      autoscale: {metric: hub_connections, average: 20000, min: 2, max: 30}
      metrics: {port: 9765}             # Prometheus scrapes pods here (annotations)
      prod: {replicas: 3, resources: {requests: {cpu: "1", memory: 1Gi}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spotctl.errors import SpotctlError

Kind = Literal["deployment", "statefulset", "daemonset", "ingress", "skip"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Autoscale(_Strict):
    """A HorizontalPodAutoscaler on a per-pod custom metric (served by an adapter, see docs/SCALING.md)."""

    metric: str
    average: Annotated[int, Field(gt=0, description="target value of the metric per pod")]
    min: Annotated[int, Field(ge=1)] = 2
    max: Annotated[int, Field(ge=1)] = 10


class Metrics(_Strict):
    port: int
    path: str = "/metrics"


class Overlay(_Strict):
    """What one overlay (dev or prod) changes for this service."""

    replicas: Annotated[int | None, Field(ge=0)] = None
    storage: str | None = None
    resources: dict[str, dict[str, str]] | None = None
    autoscale_min: Annotated[int | None, Field(ge=1)] = None
    autoscale_max: Annotated[int | None, Field(ge=1)] = None


class K8sMeta(_Strict):
    kind: Kind | None = None
    replicas: Annotated[int, Field(ge=0)] = 1
    storage: str = "1Gi"                     # size of each volume claim (StatefulSets, shared claims)
    operator: str = ""                       # what runs this store in production (a note on the object)
    autoscale: Autoscale | None = None
    metrics: Metrics | None = None
    env: dict[str, str] = {}   # Kubernetes-only additions (e.g. PGDATA)
    resources: dict[str, dict[str, str]] | None = None
    termination_grace_s: Annotated[int | None, Field(ge=1)] = None
    prestop_sleep_s: Annotated[int, Field(ge=0)] = 5    # let endpoint removal reach every proxy before SIGTERM
    dev: Overlay = Overlay()
    prod: Overlay = Overlay()

    def overlay(self, name: str) -> Overlay:
        return self.dev if name == "dev" else self.prod


def parse(service: str, extensions: Mapping[str, Any]) -> K8sMeta:
    """The service's `x-k8s`, or a SpotctlError naming the service and the bad key."""
    raw = extensions.get("x-k8s") or {}
    try:
        return K8sMeta.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SpotctlError(f"{service}: bad x-k8s in the compose file: {problems}",
                           hint="see cli/spotctl/deploy/meta.py for the keys x-k8s accepts") from None
