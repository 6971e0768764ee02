"""`@atomic`: a route's rows, its events and its answer commit together, or nothing does.

    @router.post("/playlists", status_code=201)
    @atomic
    async def create(body: NewPlaylist, user: User, res: Res, request: Request) -> dict[str, Any]:
        playlist = await svc.create(...)              # the repository writes in the unit's transaction
        outbox.emit(kafka_event(...))                  # stored in the same transaction
        after_commit(lambda: forget_lists(res, ...))   # caches are touched once it is stored
        return view(playlist)

The route runs inside a unit of work (spotctl_sandbox.db.unit): anything it writes through
`connection(pool)` and every message it emits go into one PostgreSQL transaction, committed after
the route returned and before the client is answered. A route that raises (a 4xx, a 503 naming a
dependency) leaves nothing behind. With an `Idempotency-Key` header the answer is stored in that
transaction too (spotctl_sandbox.api.idempotency), so a retry gets it back instead of writing
again. Once committed, the relay is woken to publish the emitted messages.

The route must take `request: Request` and `res: Res` (checked when the module is imported); the
caller's claims, when it has some, scope the key.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError

from spotctl_sandbox.api import idempotency
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.resources import Resources
from spotctl_sandbox.common.tokens import Claims
from spotctl_sandbox.db import unit

__all__ = ["after_commit", "atomic"]

Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Any]])
REPLAYED = "Idempotent-Replayed"


class _Raced(Exception):
    """Another attempt with the same key committed first: roll this one back and answer as it did."""


def after_commit(hook: Callable[[], Awaitable[Any]]) -> None:
    """Run `hook` once the current route's writes are committed (a failure there is only logged)."""
    open_unit = unit.current()
    if open_unit is None:
        raise RuntimeError("after_commit outside an @atomic route")
    open_unit.after_commit(hook)


def _status(request: Request) -> int:
    return int(getattr(request.scope.get("route"), "status_code", None) or 200)


def _answer(result: Any, request: Request) -> tuple[int, str]:
    if isinstance(result, Response):
        return result.status_code, bytes(result.body).decode()
    return _status(request), "" if result is None else json.dumps(jsonable_encoder(result), separators=(",", ":"))


def _replay(stored: idempotency.Stored) -> Response:
    return Response(stored.body.encode(), status_code=stored.status,
                    media_type="application/json" if stored.body else None, headers={REPLAYED: "true"})


def _key(request: Request) -> str | None:
    if request.method in ("GET", "HEAD"):
        return None
    try:
        return idempotency.parse_key(request.headers.get(idempotency.HEADER))
    except idempotency.BadKey as exc:
        raise RequestValidationError([{"type": "idempotency_key", "loc": ("header", idempotency.HEADER),
                                       "msg": str(exc), "input": None}]) from None


def atomic(endpoint: Endpoint) -> Endpoint:
    params = inspect.signature(endpoint).parameters
    if "request" not in params or "res" not in params:
        raise TypeError(f"{endpoint.__qualname__}: an @atomic route takes `request: Request` and `res: Res`")

    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        request: Request = kwargs["request"]
        res: Resources = kwargs["res"]
        key = _key(request)
        claims = next((v for v in kwargs.values() if isinstance(v, Claims)), None)
        scope = claims.user_id if claims is not None else "anonymous"
        mine = idempotency.fingerprint(request.method, request.url.path, request.url.query,
                                       await request.body()) if key else ""
        try:
            async with unit.unit(res.pool) as work:
                if key is not None:
                    stored = await idempotency.lookup(await work.connection(), scope, key)
                    verdict = idempotency.judge(stored, mine)
                    if verdict is idempotency.Verdict.MISMATCH:
                        raise ApiError(422, idempotency.mismatch_reason(key))
                    if stored is not None:
                        return _replay(stored)
                work.after_commit(res.relay.kick)  # first: publishing should not wait on cache updates
                result = await endpoint(*args, **kwargs)
                if key is not None:
                    status, body = _answer(result, request)
                    answer = idempotency.Stored(mine, status, body)

                    async def record(conn: Any) -> None:
                        if not await idempotency.remember(conn, scope, key, answer):
                            raise _Raced

                    work.before_commit(record)
        except _Raced:
            async with res.pool.connection() as conn:
                stored = await idempotency.lookup(conn, scope, key or "")
            assert stored is not None and key is not None
            if idempotency.judge(stored, mine) is idempotency.Verdict.MISMATCH:
                raise ApiError(422, idempotency.mismatch_reason(key)) from None
            return _replay(stored)
        return result

    return run  # type: ignore[return-value]
