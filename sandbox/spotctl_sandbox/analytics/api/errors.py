"""How failures reach clients (the API's shape): one JSON object, the reason spelled out.

    401 / 403  token missing, invalid, revoked / role too low     {"detail": reason}
    404        unknown metric, tenant, dashboard or alert          {"detail": ..., "known": [...]}
    409        a name that exists
    422        malformed body or query, naming each field          {"detail": ..., "errors": [...]}
    429        rate limited (Retry-After)
    503        a back-end is down, naming it                        {"detail": ..., "dependency": "influxdb"}
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
import psycopg_pool
import redis.exceptions
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from spotctl_sandbox.analytics.storage.errors import StorageUnavailable

log = logging.getLogger("spotctl_sandbox.analytics")


class ApiError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None,
                 known: list[str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers, self.known = status, detail, headers, known


def unknown(what: str, name: str, known: list[str]) -> ApiError:
    listed = ", ".join(known[:50]) + (" ..." if len(known) > 50 else "") if known else "none yet"
    return ApiError(404, f"unknown {what} {name!r}; known: {listed}", known=known)


DEPENDENCIES: dict[str, tuple[type[Exception], ...]] = {
    "redis": (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError),
    "postgres": (psycopg.OperationalError, psycopg_pool.PoolTimeout),
}


def dependency_response(name: str, detail: str) -> JSONResponse:
    log.warning("dependency %s unavailable: %s", name, detail)
    return JSONResponse({"detail": f"{name} is unavailable: {detail}", "dependency": name}, status_code=503,
                        headers={"Retry-After": "2"})


def install(app: FastAPI) -> None:
    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = []
        for e in exc.errors():
            if e.get("type") == "json_invalid":
                reason = (e.get("ctx") or {}).get("error", "malformed")
                errors.append({"field": "body", "message": f"invalid JSON at character {e['loc'][-1]}: {reason}"})
            else:
                errors.append({"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]})
        return JSONResponse({"detail": "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                             "errors": errors}, status_code=422)

    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        body: dict[str, Any] = {"detail": exc.detail}
        if exc.known is not None:
            body["known"] = exc.known
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    async def on_storage(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StorageUnavailable)
        return dependency_response(exc.backend, exc.detail)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StorageUnavailable, on_storage)
    for name, classes in DEPENDENCIES.items():
        for cls in classes:
            app.add_exception_handler(cls, _library_handler(name))


def _library_handler(name: str) -> Any:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return dependency_response(name, text)

    return handler
