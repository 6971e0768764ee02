"""Every API route's input is checked before its handler runs: a JSON body with NaN/Infinity, or a
body, query or path value with NUL or a lone surrogate, is a 422 naming the field — never a 500 from
PostgreSQL or a NaN relayed to other clients (spotctl_sandbox.common.jsonsafe says why).

`StrictRoute` is FastAPI's documented custom-route hook: the body is decoded once here and Starlette
caches it on the request, so FastAPI's own parsing does not decode it again.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from spotctl_sandbox.api.docs import responses
from spotctl_sandbox.common.jsonsafe import Unsafe, find_unsafe, text_problem

NO_NUL = r"^[^\x00]*$"  # what check_input enforces, said in the schema too


class Body(BaseModel):
    """A request body: unknown fields are a 422 (a typo is not silently ignored), as the schema says."""

    model_config = ConfigDict(extra="forbid")


def text(min_length: int = 0, max_length: int = 200, **kw: Any) -> Any:
    """A text field of a request body: bounded, and without NUL (documented as a pattern)."""
    return Field(min_length=min_length, max_length=max_length, pattern=NO_NUL, **kw)


def _invalid(loc: tuple[str | int, ...], reason: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": loc, "msg": reason, "input": None}])


def _is_json(request: Request) -> bool:
    ctype = request.headers.get("content-type", "")
    main = ctype.split(";", 1)[0].strip().lower()
    return main == "application/json" or main.endswith("+json")


async def check_input(request: Request) -> None:
    """Raise RequestValidationError for the first unsafe query, path or JSON body value."""
    for name, value in request.query_params.multi_items():
        problem = text_problem(name) or text_problem(value)
        if problem:
            raise _invalid(("query", name), problem, "string_unsafe")
    for name, value in request.path_params.items():
        problem = text_problem(str(value))
        if problem:
            raise _invalid(("path", name), problem, "string_unsafe")
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE") or not _is_json(request):
        return
    if not await request.body():
        return
    try:
        body = await request.json()  # cached on the request: FastAPI reads this very value
    except UnicodeDecodeError:
        raise _invalid(("body",), "not JSON: the body is not UTF-8 text", "json_undecodable") from None
    except RecursionError:
        raise _invalid(("body",), "not JSON this API accepts: nested too deeply", "json_too_deep") from None
    except ValueError:
        return  # FastAPI reports malformed JSON itself, with the character offset (422 json_invalid)
    unsafe: Unsafe | None = find_unsafe(body)
    if unsafe is not None:
        raise _invalid(("body", *unsafe.path), unsafe.reason, "value_unsafe")


class StrictRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            await check_input(request)
            return await handler(request)

        return checked


def router(prefix: str = "", *, tags: list[str], errors: tuple[int, ...] = ()) -> APIRouter:
    """An APIRouter whose routes check their input and document the errors every route can give
    (422, 429, 503) plus `errors` (401, 403, ...)."""
    return APIRouter(prefix=prefix, tags=list(tags), route_class=StrictRoute,
                     responses=responses(422, 429, 503, *errors))
