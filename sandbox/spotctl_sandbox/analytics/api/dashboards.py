"""/analytics/dashboards: dashboards and their widgets (the seed's presets or chart / kpi / heatmap).

A widget is a preset name (`system_health`, `user_activity`, `revenue`) or an object
`{"type": "chart" | "kpi" | "heatmap", "metric": "plays", "window": "1m", "aggregation": "sum"}`
(the seed's `data` is accepted for `metric`). Reading needs viewer, writing analyst.
"""

from __future__ import annotations

from typing import Any, Literal

import psycopg
from fastapi import APIRouter, Request
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field, field_validator

from spotctl_sandbox.analytics.api.auth import Analyst, Viewer
from spotctl_sandbox.analytics.api.errors import ApiError
from spotctl_sandbox.analytics.processing.events import TENANT_RE
from spotctl_sandbox.analytics.storage.line_protocol import NAME_RE
from spotctl_sandbox.analytics.storage.queries import AGGREGATIONS, WINDOWS

router = APIRouter(prefix="/analytics/dashboards", tags=["dashboards"])

PRESETS: dict[str, list[dict[str, str]]] = {  # what a preset widget shows
    "system_health": [{"type": "kpi", "metric": "system_cpu_percent"}, {"type": "kpi", "metric": "error_rate"}],
    "user_activity": [{"type": "chart", "metric": "active_users"}, {"type": "heatmap", "metric": "plays"}],
    "revenue": [{"type": "chart", "metric": "revenue"}],
}


class Widget(BaseModel):
    type: Literal["chart", "kpi", "heatmap", "system_health", "user_activity", "revenue"]
    metric: str | None = None
    data: str | None = Field(default=None, description="the seed's name for `metric`")
    window: str | None = None
    aggregation: str | None = None
    title: str | None = Field(default=None, max_length=200)

    @field_validator("window")
    @classmethod
    def _window(cls, v: str | None) -> str | None:
        if v is not None and v not in WINDOWS:
            raise ValueError(f"window must be one of {', '.join(WINDOWS)}")
        return v

    @field_validator("aggregation")
    @classmethod
    def _aggregation(cls, v: str | None) -> str | None:
        if v is not None and v not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}")
        return v

    def normalized(self) -> dict[str, Any]:
        metric = self.metric or self.data
        if self.type in PRESETS:
            return {"type": self.type, "title": self.title, "shows": PRESETS[self.type]}
        if metric is None or not NAME_RE.match(metric):
            raise ValueError(f"a {self.type} widget needs `metric`: a metric name (lower-case, digits, '_')")
        return {"type": self.type, "metric": metric, "window": self.window, "aggregation": self.aggregation,
                "title": self.title}


class DashboardIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    tenant_id: str = Field(default="default", min_length=1, max_length=64)
    layout: Literal["grid", "rows", "columns"] = "grid"
    widgets: list[Widget | str] = Field(min_length=1, max_length=50)

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, v: str) -> str:
        if not TENANT_RE.match(v):
            raise ValueError("1-64 letters, digits, '_', '.' or '-'")
        return v

    def widget_list(self) -> list[dict[str, Any]]:
        out = []
        for i, w in enumerate(self.widgets):
            widget = Widget(type=w) if isinstance(w, str) and w in PRESETS else w  # type: ignore[arg-type]
            if isinstance(widget, str):
                raise ApiError(422, f"widgets.{i}: {widget!r} is not a preset ({', '.join(PRESETS)})")
            try:
                out.append(widget.normalized())
            except ValueError as exc:
                raise ApiError(422, f"widgets.{i}: {exc}") from exc
        return out


COLUMNS = "id, tenant AS tenant_id, name, layout, widgets, owner, created_at, updated_at"


async def _one(request: Request, dashboard_id: int) -> dict[str, Any]:
    async with request.app.state.engine.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(f"SELECT {COLUMNS} FROM analytics_dashboards WHERE id = %s", (dashboard_id,))
        row = await cur.fetchone()
        if row is None:
            ids = [r["id"] for r in await (await cur.execute("SELECT id FROM analytics_dashboards ORDER BY id "
                                                             "LIMIT 100")).fetchall()]
            raise ApiError(404, f"no dashboard {dashboard_id}; known ids: {ids or 'none yet'}",
                           known=[str(i) for i in ids])
        return dict(row)


@router.get("")
async def list_dashboards(request: Request, who: Viewer, tenant_id: str | None = None) -> dict[str, Any]:
    async with request.app.state.engine.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(f"SELECT {COLUMNS} FROM analytics_dashboards WHERE %(t)s::text IS NULL OR tenant = %(t)s "
                          "ORDER BY id", {"t": tenant_id})
        return {"dashboards": list(await cur.fetchall())}


@router.post("", status_code=201)
async def create_dashboard(body: DashboardIn, request: Request, who: Analyst) -> dict[str, Any]:
    widgets = body.widget_list()
    try:
        async with request.app.state.engine.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"INSERT INTO analytics_dashboards (tenant, name, layout, widgets, owner) "
                              f"VALUES (%s, %s, %s, %s, %s) RETURNING {COLUMNS}",
                              (body.tenant_id, body.name, body.layout, Jsonb(widgets), who.user_id))
            return dict(await cur.fetchone() or {})
    except psycopg.errors.UniqueViolation as exc:
        raise ApiError(409, f"tenant {body.tenant_id} already has a dashboard named {body.name!r}") from exc


@router.get("/{dashboard_id}")
async def get_dashboard(dashboard_id: int, request: Request, who: Viewer) -> dict[str, Any]:
    return await _one(request, dashboard_id)


@router.put("/{dashboard_id}")
async def replace_dashboard(dashboard_id: int, body: DashboardIn, request: Request, who: Analyst) -> dict[str, Any]:
    await _one(request, dashboard_id)
    widgets = body.widget_list()
    try:
        async with request.app.state.engine.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"UPDATE analytics_dashboards SET tenant = %s, name = %s, layout = %s, widgets = %s, "
                              f"updated_at = now() WHERE id = %s RETURNING {COLUMNS}",
                              (body.tenant_id, body.name, body.layout, Jsonb(widgets), dashboard_id))
            return dict(await cur.fetchone() or {})
    except psycopg.errors.UniqueViolation as exc:
        raise ApiError(409, f"tenant {body.tenant_id} already has a dashboard named {body.name!r}") from exc


@router.delete("/{dashboard_id}", status_code=204)
async def delete_dashboard(dashboard_id: int, request: Request, who: Analyst) -> None:
    await _one(request, dashboard_id)
    async with request.app.state.engine.pool.connection() as conn:
        await conn.execute("DELETE FROM analytics_dashboards WHERE id = %s", (dashboard_id,))
