"""/analytics/events: the seed's `search_events(query, time_range)` over the event store (viewer)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from spotctl_sandbox.analytics.api.auth import Viewer
from spotctl_sandbox.analytics.api.errors import ApiError
from spotctl_sandbox.analytics.storage.queries import QueryError, duration

router = APIRouter(prefix="/analytics/events", tags=["events"])


@router.get("")
async def search_events(request: Request, who: Viewer, q: str = "", range: str = "1h", tenant_id: str | None = None,
                        kind: str | None = None, limit: int = 100) -> dict[str, Any]:
    """Full-text search (`q`, web-search syntax) in a time range; `kind` is a topic, `dead_letter` or `alert`."""
    import datetime as dt

    try:
        span = dt.timedelta(seconds=duration(range, "range"))
    except QueryError as exc:
        raise ApiError(422, str(exc)) from exc
    if not 1 <= limit <= 1000:
        raise ApiError(422, "limit must be 1..1000")
    if len(q) > 500:
        raise ApiError(422, "q is at most 500 characters")
    store = request.app.state.engine.storage.event
    found = await store.search_events(q, span, tenant=tenant_id, kind=kind, limit=limit)
    return {"backend": store.backend.value, "count": len(found), "events": found}
