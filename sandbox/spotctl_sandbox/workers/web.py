"""The process's HTTP edges: health + sink listings on PORT, the push webhook sink on PUSH_PORT.

Both run as uvicorn servers inside the workers' event loop; signals stay with the runner, which
decides the order of the graceful stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import prometheus_client
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from spotctl_sandbox.common.health import HealthChecks
from spotctl_sandbox.workers import metrics
from spotctl_sandbox.workers.retrying import transient_errors
from spotctl_sandbox.workers.sinks import MailSink, PushSink
from spotctl_sandbox.workers.state import Health

TriggerReport = Callable[[dt.date], Awaitable[str]]
ENQUEUE_TIMEOUT_S = 5.0


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ValueError("limit must be an integer in 1..1000")
    return int(raw)


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def health_report(health: Health, checks: HealthChecks | None) -> dict[str, Any]:
    """The workers' states, plus a round trip to each store: `degraded` names the stores that failed."""
    snapshot = health.snapshot()
    if checks is not None:
        deps = await checks.report()
        snapshot["dependencies"], snapshot["degraded"] = deps["dependencies"], deps["degraded"]
        if deps["degraded"]:
            snapshot["status"] = "degraded"
    return snapshot


def workers_app(health: Health, mail: MailSink, push: PushSink, trigger_report: TriggerReport,
                checks: HealthChecks | None = None) -> Starlette:
    async def get_health(request: Request) -> JSONResponse:
        return JSONResponse(await health_report(health, checks))

    async def get_metrics(request: Request) -> Response:
        metrics.refresh(health)
        return Response(prometheus_client.generate_latest(), media_type=prometheus_client.CONTENT_TYPE_LATEST)

    async def list_email(request: Request) -> JSONResponse:
        try:
            return JSONResponse({"messages": mail.list(_limit(request))})
        except ValueError as exc:
            return _bad_request(str(exc))

    async def list_push(request: Request) -> JSONResponse:
        try:
            return JSONResponse({"messages": push.list(_limit(request))})
        except ValueError as exc:
            return _bad_request(str(exc))

    async def run_daily_report(request: Request) -> JSONResponse:
        """Enqueue the daily report now (default: yesterday, UTC); the job does the work."""
        body = await request.body()
        try:
            raw = json.loads(body).get("day") if body else None
            day = dt.date.fromisoformat(raw) if raw else dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        except (ValueError, TypeError, AttributeError):
            return _bad_request('body must be JSON like {"day": "YYYY-MM-DD"}')
        try:
            job_id = await asyncio.wait_for(trigger_report(day), ENQUEUE_TIMEOUT_S)  # BullMQ retries forever
        except transient_errors() as exc:
            return JSONResponse({"error": f"cannot enqueue: redis unreachable ({type(exc).__name__})"},
                                status_code=503)
        return JSONResponse({"queued": True, "job_id": job_id, "day": day.isoformat()}, status_code=202)

    async def push_faults(request: Request) -> JSONResponse:
        """Make the push sink refuse the next `times` pushes to `user_id` (503)."""
        try:
            body = json.loads(await request.body())
            user_id, times = str(body["user_id"]), body["times"]
            if isinstance(times, bool) or not isinstance(times, int) or not 0 <= times <= 100:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return _bad_request('body must be JSON like {"user_id": "42", "times": 2} (times 0..100)')
        push.fail_next(user_id, times)
        return JSONResponse({"user_id": user_id, "times": times})

    return Starlette(routes=[
        Route("/health", get_health),
        Route("/metrics", get_metrics),
        Route("/sinks/email", list_email),
        Route("/sinks/push", list_push),
        Route("/sinks/push/faults", push_faults, methods=["POST"]),
        Route("/jobs/daily-report", run_daily_report, methods=["POST"]),
    ])


def push_app(push: PushSink) -> Starlette:
    async def receive(request: Request) -> JSONResponse:
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return _bad_request("push body must be JSON")
        if push.take_fault(payload):
            return JSONResponse({"error": "push service unavailable (planned fault)"}, status_code=503)
        return JSONResponse({"id": push.store(payload)}, status_code=201)

    async def listing(request: Request) -> JSONResponse:
        try:
            return JSONResponse({"messages": push.list(_limit(request))})
        except ValueError as exc:
            return _bad_request(str(exc))

    return Starlette(routes=[Route("/push", receive, methods=["POST"]), Route("/push", listing)])


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runner owns SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server(app: Starlette, port: int, host: str) -> EmbeddedServer:
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            lifespan="off")
    return EmbeddedServer(config)
