"""How failures reach clients: one JSON shape, the reason spelled out, never a traceback.

    401  token missing/invalid/expired/revoked         {"detail": reason}
    403  not allowed (role, ownership)                 {"detail": reason}
    404  unknown song/artist/playlist                  {"detail": "song 42 not found"}
    409  conflict (email taken, changed meanwhile)     {"detail": reason}
    413  body over API_MAX_BODY_BYTES                  {"detail": ...}
    422  malformed body/query, naming each field       {"detail": "body.email: ...", "errors": [...]}
    429  rate limited                                  {"detail": ..., "retry_after": s}
    500  a bug: logged with its traceback server-side  {"detail": "internal error ...", "request_id": ...}
    503  a dependency is down, naming it               {"detail": ..., "dependency": "redis"}

docs.py describes the same shapes in the OpenAPI document.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import aio_pika.exceptions
import aiormq.exceptions
import psycopg
import psycopg_pool
import redis.exceptions
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException
from starlette.routing import Match

from spotctl_sandbox.api import metrics
from spotctl_sandbox.common import health
from spotctl_sandbox.playlists import PlaylistError

log = logging.getLogger("spotctl_sandbox.api")


class DependencyDown(Exception):
    """A store or broker the request needs did not answer; `name` is what the client sees."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.name = name
        self.detail = detail


class ApiError(Exception):
    """An expected client-facing error with its status (404, 409, 403, ...)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


# Library exceptions that mean "this dependency is down", by the name clients see.
DEPENDENCY_EXCEPTIONS: dict[str, tuple[type[Exception], ...]] = {
    "redis": (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError),
    "postgres": (psycopg.OperationalError, psycopg_pool.PoolTimeout, psycopg.errors.UndefinedTable),
    "kafka": (KafkaError,),
    # a channel the broker closed (vhost gone, connection lost) raises ChannelInvalidStateError, a
    # RuntimeError, until aio-pika's robust connection has reopened it
    "rabbitmq": (aio_pika.exceptions.AMQPException, aiormq.exceptions.AMQPError,
                 aiormq.exceptions.ChannelInvalidStateError),
    "mongodb": (ConnectionFailure,),
}


_REPR = re.compile(r"^<.*>$|object at 0x[0-9a-f]+")


def describe(exc: BaseException) -> str:
    """One readable line for a library exception: its message, never an object repr (which some
    AMQP exceptions give as their str) — then just the exception's class name."""
    text = str(exc).strip().splitlines()[0].strip() if str(exc).strip() else ""
    return type(exc).__name__ if not text or _REPR.search(text) else text


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc)


def _describe(error: dict[str, Any]) -> dict[str, str]:
    if error.get("type") == "json_invalid":  # loc is ("body", <character offset>)
        reason = (error.get("ctx") or {}).get("error", "malformed")
        return {"field": "body", "message": f"invalid JSON at character {error['loc'][-1]}: {reason}"}
    return {"field": _field(error["loc"]), "message": error["msg"]}


def dependency_response(name: str, detail: str) -> JSONResponse:
    metrics.DEPENDENCY_ERRORS.labels(name).inc()
    health.saw_failure()  # the next /health checks again rather than answer from its cache
    log.warning("dependency %s unavailable: %s", name, detail)
    return JSONResponse({"detail": f"{name} is unavailable: {detail}", "dependency": name},
                        status_code=503, headers={"Retry-After": "2"})


def install(app: FastAPI) -> None:
    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [_describe(e) for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse({"detail": detail, "errors": errors}, status_code=422)

    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    async def on_dependency(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DependencyDown)
        return dependency_response(exc.name, exc.detail)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        """Starlette's own errors (404 unknown path, 405) and the body limit's 413, as JSON. A 405's
        Allow lists the methods of every route on the path (Starlette names only the first's)."""
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    async def on_playlist(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PlaylistError)
        if exc.field:
            field = f"body.{exc.field}"
            return JSONResponse({"detail": f"{field}: {exc.reason}",
                                 "errors": [{"field": field, "message": exc.reason}]}, status_code=exc.status)
        return JSONResponse({"detail": exc.reason}, status_code=exc.status)

    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        request_id = request.headers.get("x-request-id", "")
        log.error("unhandled %s on %s %s (request id %s)", type(exc).__name__, request.method,
                  request.url.path, request_id or "-", exc_info=exc)
        return JSONResponse({"detail": "internal error; it has been logged", "request_id": request_id},
                            status_code=500)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(DependencyDown, on_dependency)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(PlaylistError, on_playlist)
    app.add_exception_handler(Exception, on_bug)
    for name, classes in DEPENDENCY_EXCEPTIONS.items():
        for cls in classes:
            app.add_exception_handler(cls, _library_handler(name))


def allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _library_handler(name: str) -> Any:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return dependency_response(name, describe(exc))

    return handler
