"""/analytics/metrics: ingest (analyst), discover, query by tenant and aggregate (viewer)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, model_validator

from spotctl_sandbox.analytics.api.auth import Analyst, Viewer
from spotctl_sandbox.analytics.api.errors import ApiError, unknown
from spotctl_sandbox.analytics.core.metrics_collector import KINDS, MetricError
from spotctl_sandbox.analytics.processing.points import BREAKDOWNS
from spotctl_sandbox.analytics.processing.windows import SERIES
from spotctl_sandbox.analytics.storage.queries import MetricQuery, QueryError, instant
from spotctl_sandbox.analytics.storage.timeseries import InfluxRejected

router = APIRouter(prefix="/analytics/metrics", tags=["metrics"])
COUNTED = frozenset(SERIES) | BREAKDOWNS.keys()  # what the stream processor writes, before it has any
CATALOG_TTL_S = 5.0


class MetricIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, examples=["api_requests"])
    value: float = Field(allow_inf_nan=False)
    tenant_id: str = Field(default="default", min_length=1, max_length=64)
    tags: dict[str, str] = Field(default_factory=dict, max_length=16)
    kind: str = Field(default="app", description=f"one of {', '.join(KINDS)}")
    timestamp: float | str | None = Field(default=None, description="epoch seconds or ISO 8601; default now")


class MetricsIn(BaseModel):
    """One metric (the seed's body) or `{"metrics": [...]}` (up to 5000)."""

    metrics: list[MetricIn] = Field(default_factory=list, max_length=5000)

    @model_validator(mode="before")
    @classmethod
    def single(cls, data: Any) -> Any:
        if isinstance(data, dict) and "metrics" not in data:
            return {"metrics": [data]}
        return data


async def catalog(request: Request) -> dict[str, list[str]]:
    """Metrics and tenants InfluxDB holds (cached a few seconds: every query checks against it)."""
    cached = getattr(request.app.state, "catalog", None)
    if cached and time.monotonic() - cached[0] < CATALOG_TTL_S:
        return dict(cached[1])
    ts = request.app.state.engine.storage.time_series
    results = await ts.query('SHOW MEASUREMENTS; SHOW TAG VALUES WITH KEY = "tenant"')
    metrics = sorted({row[0] for s in results[0].get("series", []) for row in s["values"]})
    tenants = sorted({row[1] for s in results[1].get("series", []) for row in s["values"]})
    found = {"metrics": metrics, "tenants": tenants}
    request.app.state.catalog = (time.monotonic(), found)
    return found


def forget_catalog(request: Request) -> None:
    request.app.state.catalog = None


@router.post("", status_code=201)
async def ingest(body: MetricsIn, request: Request, who: Analyst) -> dict[str, Any]:
    if not body.metrics:
        raise ApiError(422, "no metrics in the body")
    collector = request.app.state.engine.metrics_collector
    try:
        batch = [(m.tenant_id, m.name, m.value, m.tags, m.kind,
                  None if m.timestamp is None else instant(str(m.timestamp), 0.0, "timestamp"))
                 for m in body.metrics]
        stored = await collector.collect_many(batch)
    except (MetricError, QueryError, InfluxRejected) as exc:
        raise ApiError(422, str(exc)) from exc
    forget_catalog(request)
    return {"stored": len(stored), "metrics": stored}


@router.get("")
async def discover(request: Request, who: Viewer) -> dict[str, list[str]]:
    """What can be queried: metric names and tenants."""
    return await catalog(request)


async def run_query(request: Request, q: MetricQuery) -> dict[str, Any]:
    found = await catalog(request)
    if q.metric in COUNTED and q.metric not in found["metrics"]:
        raise ApiError(404, f"no {q.metric} counted yet: the stream processor writes it from the events of "
                            "that kind (play a song: `spotctl scenario run play`; a history: `spotctl analytics "
                            "simulate --yes`)", known=found["metrics"])
    if q.metric not in found["metrics"]:
        raise unknown("metric", q.metric, found["metrics"])
    if q.tenant is not None and q.tenant not in found["tenants"]:
        raise unknown("tenant", q.tenant, found["tenants"])
    ts = request.app.state.engine.storage.time_series
    if q.group_by is not None:
        keys = await ts.query(f'SHOW TAG KEYS FROM "{q.metric}"')
        tags = sorted({row[0] for s in keys[0].get("series", []) for row in s["values"]})
        if q.group_by not in tags:
            raise ApiError(422, f"{q.metric} has no tag {q.group_by!r}; its tags: {', '.join(tags)}")
    try:
        results = await ts.query(q.influxql())
    except InfluxRejected as exc:
        raise ApiError(422, f"influxdb refused the query: {exc}") from exc
    series = [{"tags": s.get("tags", {}), "points": [[row[0] / 1000, row[1]] for row in s["values"]]}
              for s in (results[0].get("series", []) if results else [])]
    return {"metric": q.metric, "tenant": q.tenant, "window": q.window, "aggregation": q.aggregation,
            "step_s": q.step_s, "start": q.start, "end": q.end, "group_by": q.group_by, "series": series}


Start = Annotated[str | None, Query(description="now, -1h, epoch seconds or ISO 8601 (default: end - 1h)")]
End = Annotated[str | None, Query(description="now, -5m, epoch seconds or ISO 8601 (default: now)")]


@router.get("/aggregated")
async def aggregated(request: Request, who: Viewer, metric: str, start: Start = None, end: End = None,
                     aggregation: str | None = None, window: str | None = None, tenant_id: str | None = None,
                     group_by: str | None = "tenant") -> dict[str, Any]:
    """One value per group (default: per tenant) over the whole range."""
    try:
        q = MetricQuery.build(metric=metric, tenant=tenant_id, start=start, end=end, step=None,
                              aggregation=aggregation, window=window, group_by=group_by, bucketed=False)
    except QueryError as exc:
        raise ApiError(422, str(exc)) from exc
    return await run_query(request, q)


@router.get("/{tenant_id:path}")  # a "/" in it: refused by the tenant rule, not a bare 404
async def by_tenant(tenant_id: str, request: Request, who: Viewer, metric: str = "plays", start: Start = None,
                    end: End = None, step: str = "1m", aggregation: str | None = None, window: str | None = None,
                    group_by: str | None = None) -> dict[str, Any]:
    """A tenant's series in steps: e.g. plays per minute over the last hour (`window` picks 1m, 5m, ...)."""
    try:
        q = MetricQuery.build(metric=metric, tenant=tenant_id, start=start, end=end, step=step,
                              aggregation=aggregation, window=window, group_by=group_by)
    except QueryError as exc:
        raise ApiError(422, str(exc)) from exc
    return await run_query(request, q)
