"""What the OpenAPI document says about errors and authentication, in one place.

Every error body is `{"detail": "<reason>"}` with a few extra fields (errors.py writes them); a 422
also carries `errors`, one `{field, message}` per problem, so clients need one error shape, not two.
The schema below says exactly that (FastAPI's default 422 schema — `detail` as an array — is
replaced on every route).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

BEARER = "bearerAuth"


class ErrorBody(BaseModel):
    detail: str = Field(description="what went wrong and, where it helps, how to fix it")


class FieldError(BaseModel):
    field: str = Field(description="where: body.name, query.q, path.song_id, ...")
    message: str


class ValidationErrorBody(ErrorBody):
    errors: list[FieldError]


class RateLimitedBody(ErrorBody):
    retry_after: int | None = Field(default=None, description="seconds (also in Retry-After)")


class DependencyDownBody(ErrorBody):
    dependency: str = Field(description="redis, postgres, kafka, rabbitmq, mongodb or recommendation-worker")


_ERRORS: dict[int, tuple[type[BaseModel], str]] = {
    401: (ErrorBody, "No valid bearer token: missing, malformed, expired, revoked, or not a user's"),
    403: (ErrorBody, "Authenticated, but not allowed to do this (role, ownership or link)"),
    404: (ErrorBody, "Unknown (or, for private playlists, not visible to the caller)"),
    409: (ErrorBody, "Conflicts with the current state (already exists, changed meanwhile)"),
    413: (ErrorBody, "Request body larger than API_MAX_BODY_BYTES"),
    416: (ErrorBody, "Range outside the file"),
    422: (ValidationErrorBody, "Malformed input, naming each field"),
    429: (RateLimitedBody, "Rate limited (per address or per user); see Retry-After"),
    503: (DependencyDownBody, "A dependency is down, named in `dependency`; see Retry-After"),
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for these error statuses."""
    return {code: {"model": _ERRORS[code][0], "description": _ERRORS[code][1]} for code in codes}


def install(app: FastAPI) -> None:
    """Routes whose token is optional (search, a playlist) also list the empty security requirement,
    so an anonymous call is documented as allowed (the bearer scheme itself comes from
    security.bearer_scheme, a dependency of every authenticated route)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            for path in schema.get("paths", {}).values():
                for op in path.values():
                    if isinstance(op, dict):
                        _complete(op)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(op: dict[str, Any]) -> None:
    """Errors every operation of a kind can give: 401 where a token is read, 413 where a body is."""
    if op.pop("x-optional-auth", False):
        op["security"] = [{BEARER: []}, {}]
    extra = ([401] if op.get("security") else []) + ([413] if op.get("requestBody") else [])
    for code, entry in responses(*extra).items():
        model = entry["model"]
        op["responses"].setdefault(str(code), {
            "description": entry["description"],
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}})


OPTIONAL_AUTH: dict[str, Any] = {"x-optional-auth": True}  # openapi_extra= of such routes
