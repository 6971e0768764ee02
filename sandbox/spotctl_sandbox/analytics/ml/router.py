"""/analytics/ml: train, predict, models (and promotion), anomalies (and scans), forecast, segments.

`create_router(viewer, analyst, admin)` takes the role dependencies of the app it joins (the analytics
API's JWT roles), so the routes hold no auth of their own: viewer reads, analyst trains, predicts and
scans, admin promotes. The service's work is CPU-bound and synchronous: it runs in a worker thread.

Failures are `{"detail": reason}` (HTTPException, so any app's handlers shape them alike):
    400  a request the models cannot use (bad features, unknown tenant)
    404  unknown model or version (the detail lists the known ones)
    409  the model is not trained yet, or its artifact is gone (the detail says how to train it)
    503  PostgreSQL is down (the detail names it)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable
from typing import Any, Literal

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from spotctl_sandbox.analytics.ml.forecast import FORECAST_METRICS, MAX_HORIZON_H
from spotctl_sandbox.analytics.ml.registry import ArtifactError, ModelNotTrained, UnknownModel
from spotctl_sandbox.analytics.ml.service import MLError, MLService, default_service

HORIZON_RE = re.compile(r"^\s*(\d{1,4})\s*([hd]?)\s*$")


def parse_horizon(text: str) -> int:
    """'24h', '7d' or '24' (hours) -> hours; the seed writes horizons like "30d"."""
    match = HORIZON_RE.match(text)
    if not match:
        raise MLError(f"horizon {text!r} is not a number of hours or days, e.g. 24h or 7d")
    hours = int(match.group(1)) * (24 if match.group(2) == "d" else 1)
    if not 1 <= hours <= MAX_HORIZON_H:
        raise MLError(f"horizon must be 1h..{MAX_HORIZON_H}h ({MAX_HORIZON_H // 24}d), got {text}")
    return hours


class TrainIn(BaseModel):
    model: Literal["anomaly_detector", "predictive_analytics", "behavior_analyzer"]
    days: float | None = Field(default=None, gt=0, le=400, description="history to learn from (default 14, 21)")
    tenants: list[str] | None = Field(default=None, max_length=100, description="default: every tenant stored")
    params: dict[str, float | int | str | None] = Field(default_factory=dict, description="model parameters")
    promote: bool | None = Field(default=None, description="default: promote only a model's first version")


class PromoteIn(BaseModel):
    version: int = Field(ge=1)


class PredictIn(BaseModel):
    model: Literal["anomaly_detector", "behavior_analyzer", "predictive_analytics"]
    tenant: str | None = Field(default=None, description="anomaly_detector and predictive_analytics")
    minutes: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000,
                                          description="anomaly_detector: {minute, plays, active_users, ...}")
    users: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000,
                                        description="behavior_analyzer: {tenant, user_id, plays_7d, ...}")
    metric: Literal["plays", "active_users"] = "plays"
    horizon: str = "24h"
    confidence_interval: float = Field(default=0.9, gt=0, lt=1)


class ScanIn(BaseModel):
    tenant: str | None = None
    days: float = Field(default=1.0, gt=0, le=60)


def _service(request: Request) -> MLService:
    service = getattr(request.app.state, "ml", None)
    return service if isinstance(service, MLService) else default_service()


async def _run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The service in a thread, its errors as HTTP answers."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except (ModelNotTrained, ArtifactError) as exc:
        raise HTTPException(409, str(exc)) from exc
    except UnknownModel as exc:
        raise HTTPException(404, str(exc)) from exc
    except MLError as exc:
        raise HTTPException(400, str(exc)) from exc
    except LookupError as exc:  # a version that does not exist
        raise HTTPException(404, str(exc.args[0] if exc.args else exc)) from exc
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise HTTPException(503, f"postgres is unavailable: {first}", headers={"Retry-After": "2"}) from exc


def _forecast_body(fc: Any) -> dict[str, Any]:
    return {"tenant": fc.tenant, "metric": fc.metric, "horizon_h": fc.horizon_h, "confidence": fc.confidence,
            "points": [{"at": p.at, "value": p.value, "lower": p.lower, "upper": p.upper} for p in fc.points]}


def create_router(viewer: Callable[..., Any], analyst: Callable[..., Any], admin: Callable[..., Any]) -> APIRouter:
    router = APIRouter(prefix="/analytics/ml", tags=["ml"])
    as_viewer, as_analyst, as_admin = [Depends(viewer)], [Depends(analyst)], [Depends(admin)]

    @router.post("/train", status_code=201, dependencies=as_analyst)
    async def train(body: TrainIn, request: Request) -> dict[str, Any]:
        """Train a model on stored features; its first version is promoted, later ones are candidates."""
        result = await _run(_service(request).train, body.model, body.days, body.tenants, body.params, body.promote)
        return {**result.record.as_dict(), "seconds": result.seconds}

    @router.get("/models", dependencies=as_viewer)
    async def models(request: Request, name: str | None = None) -> list[dict[str, Any]]:
        """Every version of every model (or of `name`), newest first, with params, metrics and data window."""
        return [r.as_dict() for r in await _run(_service(request).models, name)]

    @router.post("/models/{name:path}/promote", dependencies=as_admin)  # "/" in it: "no model"
    async def promote(name: str, body: PromoteIn, request: Request) -> dict[str, Any]:
        """Make a version the live one (the previous one is retired)."""
        record = await _run(_service(request).promote, name, body.version)
        return dict(record.as_dict())

    @router.post("/predict", dependencies=as_analyst)
    async def predict(body: PredictIn, request: Request) -> dict[str, Any]:
        """Score minutes, segment users or forecast with the promoted model."""
        service = _service(request)
        if body.model == "behavior_analyzer":
            if not body.users:
                raise HTTPException(400, "behavior_analyzer needs 'users': [{tenant, user_id, plays_7d, ...}]")
            assigned = await _run(service.predict_segments, body.users)
            return {"model": body.model, "assignments": [a.__dict__ for a in assigned]}
        if not body.tenant:
            raise HTTPException(400, f"{body.model} needs 'tenant'")
        if body.model == "predictive_analytics":
            horizon = await _run(parse_horizon, body.horizon)
            fc = await _run(service.forecast, body.tenant, body.metric, horizon, body.confidence_interval)
            return {"model": body.model, **_forecast_body(fc)}
        if not body.minutes:
            raise HTTPException(400, "anomaly_detector needs 'minutes': [{minute, plays, active_users, errors, "
                                     "delivery_p99_ms, ...}]")
        results = await _run(service.predict_minutes, body.tenant, body.minutes)
        return {"model": body.model, "prediction": [
            {"minute": r.minute, "is_anomaly": r.is_anomaly, "anomaly_score": r.anomaly_score,
             "reasons": list(r.reasons)} for r in results]}

    @router.get("/anomalies", dependencies=as_viewer)
    async def anomalies(request: Request, tenant: str | None = None, since: dt.datetime | None = None,
                        limit: int = Query(100, ge=1, le=10_000)) -> list[dict[str, Any]]:
        """Flagged minutes, newest first (live scoring and scans)."""
        found = await _run(_service(request).anomalies, tenant, since, limit)
        return [{**a.__dict__, "reasons": list(a.reasons)} for a in found]

    @router.post("/anomalies/scan", dependencies=as_analyst)
    async def scan(body: ScanIn, request: Request) -> dict[str, Any]:
        """Run the promoted detector over stored minutes; scored against ground truth where it was recorded."""
        return dict(await _run(_service(request).scan, body.tenant, body.days))

    @router.get("/forecast", dependencies=as_viewer)
    async def forecast(request: Request, tenant: str = Query(..., min_length=1),
                       metric: str = Query("plays", description=", ".join(FORECAST_METRICS)),
                       horizon: str = "24h", confidence_interval: float = Query(0.9, gt=0, lt=1)) -> dict[str, Any]:
        """The next hours of plays or active users with an interval."""
        hours = await _run(parse_horizon, horizon)
        return _forecast_body(await _run(_service(request).forecast, tenant, metric, hours, confidence_interval))

    @router.get("/segments", dependencies=as_viewer)
    async def segments(request: Request, tenant: str | None = None) -> dict[str, Any]:
        """The promoted segmentation: silhouette, segment centres, stored users per segment."""
        return dict(await _run(_service(request).segments, tenant))

    return router

