"""/analytics/alerts: alert rules (admin writes, viewer reads) and their firing history.

A rule: `{"name", "condition": "error_rate > 0.05", "for_s": 120, "severity", "channels", "actions"}`;
an ML alert: `{"kind": "ml", "name", "model": "anomaly_detector", "threshold": 0.8, "sensitivity"}`.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from spotctl_sandbox.analytics.api.auth import Admin, Viewer
from spotctl_sandbox.analytics.api.errors import ApiError
from spotctl_sandbox.analytics.core.alert_manager import AlertExists, AlertManager

router = APIRouter(prefix="/analytics/alerts", tags=["alerts"])


class AlertIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["rule", "ml"] = "rule"
    tenant_id: str | None = Field(default=None, description="one tenant, or every tenant when omitted")
    condition: str | None = Field(default=None, examples=["error_rate > 0.05"])
    for_s: int = Field(default=0, ge=0, le=86400)
    model: str | None = Field(default=None, examples=["anomaly_detector"])
    threshold: float | None = Field(default=None, ge=0, le=1, description="None: the model's own verdict")
    sensitivity: Literal["high", "medium", "low"] = "medium"
    severity: str = "warning"
    channels: list[str] = Field(default_factory=lambda: ["hub"], max_length=5)
    actions: list[str] = Field(default_factory=list, max_length=10)
    recipients: list[str] = Field(default_factory=list, max_length=100, description="user ids; default ops/admin")


class AlertPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    condition: str | None = None
    for_s: int | None = Field(default=None, ge=0, le=86400)
    threshold: float | None = Field(default=None, ge=0, le=1)
    sensitivity: Literal["high", "medium", "low"] | None = None
    severity: str | None = None
    channels: list[str] | None = Field(default=None, max_length=5)
    actions: list[str] | None = Field(default=None, max_length=10)
    recipients: list[str] | None = Field(default=None, max_length=100)
    enabled: bool | None = None


def _manager(request: Request) -> AlertManager:
    manager: AlertManager = request.app.state.engine.alert_manager
    return manager


async def _known(request: Request, alert_id: int) -> None:
    manager = _manager(request)
    if manager.get(alert_id) is None and all(r.id != alert_id for r in await manager.load()):
        ids = [str(r.id) for r in manager.rules]
        raise ApiError(404, f"no alert {alert_id}; known ids: {', '.join(ids) or 'none yet'}", known=ids)


@router.get("")
async def list_alerts(request: Request, who: Viewer) -> dict[str, Any]:
    return {"alerts": [r.to_json() for r in await _manager(request).load()]}


@router.get("/events")
async def alert_events(request: Request, who: Viewer, limit: int = 100) -> dict[str, Any]:
    if not 1 <= limit <= 1000:
        raise ApiError(422, "limit must be 1..1000")
    return {"events": await _manager(request).history(None, limit)}


@router.post("", status_code=201)
async def create_alert(body: AlertIn, request: Request, who: Admin) -> dict[str, Any]:
    manager = _manager(request)
    try:
        if body.kind == "ml":
            rule = await manager.create_ml_alert(body.name, body.model or "anomaly_detector", body.threshold,
                                                 body.sensitivity, tenant=body.tenant_id, severity=body.severity,
                                                 channels=body.channels, recipients=body.recipients)
        else:
            if not body.condition:
                raise ApiError(422, "a rule needs `condition`, e.g. \"error_rate > 0.05\"")
            rule = await manager.create_alert(body.name, body.condition, body.severity, body.channels, body.actions,
                                              tenant=body.tenant_id, for_s=body.for_s, recipients=body.recipients)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from exc
    except AlertExists as exc:
        raise ApiError(409, str(exc)) from exc
    return rule.to_json()


@router.get("/{alert_id}")
async def get_alert(alert_id: int, request: Request, who: Viewer) -> dict[str, Any]:
    await _known(request, alert_id)
    manager = _manager(request)
    rule = manager.get(alert_id)
    assert rule is not None
    return {**rule.to_json(), "history": await manager.history(alert_id, 20)}


@router.put("/{alert_id}")
async def update_alert(alert_id: int, body: AlertPatch, request: Request, who: Admin) -> dict[str, Any]:
    await _known(request, alert_id)
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise ApiError(422, "nothing to change: send at least one field")
    try:
        rule = await _manager(request).update_alert(alert_id, changes)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from exc
    except AlertExists as exc:
        raise ApiError(409, str(exc)) from exc
    assert rule is not None
    return rule.to_json()


@router.delete("/{alert_id}", status_code=204)
async def delete_alert(alert_id: int, request: Request, who: Admin) -> None:
    await _known(request, alert_id)
    await _manager(request).delete_alert(alert_id)
