"""A unit of work: one request's PostgreSQL writes in one transaction, found by whoever needs it.

A write must commit with everything that belongs to it — its rows, the events they raise (the
outbox, spotctl_sandbox.events.outbox) and the answer the client is given (an idempotency record) —
or not at all. The route opens a Unit; code further down (the playlist repository, the directory)
asks `connection(pool)` and gets the unit's connection, in its transaction, without being handed it
(the way Django's `transaction.atomic` is found), so the playlist rules stay the same for callers
that have no unit (the hub): they get a pooled connection per call, as before.

    async with unit(pool) as u:
        async with connection(pool) as conn:       # the unit's, in its transaction
            await conn.execute("INSERT ...")
        u.before_commit(store_outbox_rows)         # run inside the transaction, just before COMMIT
        u.after_commit(invalidate_a_cache)         # run once committed; a failure there is logged only

The connection is taken lazily, on first use, so a route spends no connection on its token check.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

__all__ = ["Unit", "connection", "current", "unit"]

log = logging.getLogger(__name__)

Hook = Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]]
AfterHook = Callable[[], Awaitable[Any]]

_current: ContextVar[Unit | None] = ContextVar("spotctl_unit_of_work", default=None)


class Unit:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool
        self._stack = AsyncExitStack()
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._before: list[Hook] = []
        self._after: list[AfterHook] = []
        self.state: dict[str, Any] = {}  # what the parts of a write collect until commit (outbox messages)

    async def connection(self) -> psycopg.AsyncConnection[Any]:
        """The unit's connection, in its transaction (taken and begun on first use)."""
        if self._conn is None:
            conn = await self._stack.enter_async_context(self.pool.connection())
            await self._stack.enter_async_context(conn.transaction())
            self._conn = conn
        return self._conn

    def before_commit(self, hook: Hook) -> None:
        """`hook(conn)` runs inside the transaction just before it commits; raising rolls it back."""
        self._before.append(hook)

    def after_commit(self, hook: AfterHook) -> None:
        """`hook()` runs once the transaction committed (cache invalidation, waking a relay). What
        the client is told no longer depends on it: a failure is logged, not raised."""
        self._after.append(hook)

    async def _before_commit(self) -> None:
        if self._before:
            conn = await self.connection()
            for hook in self._before:
                await hook(conn)

    async def _after_commit(self) -> None:
        for hook in self._after:
            try:
                await hook()
            except Exception as exc:
                log.warning("after-commit step failed (the write itself is stored): %s", exc)


def current() -> Unit | None:
    return _current.get()


@asynccontextmanager
async def unit(pool: AsyncConnectionPool[Any]) -> AsyncIterator[Unit]:
    """Open a unit of work; commit when the block ends normally, roll back when it raises."""
    made = Unit(pool)
    token = _current.set(made)
    try:
        try:
            yield made
            await made._before_commit()
        except BaseException as exc:
            await made._stack.__aexit__(type(exc), exc, exc.__traceback__)  # roll back, give the connection back
            raise
        await made._stack.aclose()  # COMMIT (a failure rolls back and is raised)
    finally:
        _current.reset(token)
    await made._after_commit()


@asynccontextmanager
async def connection(pool: AsyncConnectionPool[Any]) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """The current unit's connection if a unit is open (on this pool), else a pooled one for this block."""
    open_unit = _current.get()
    if open_unit is not None and open_unit.pool is pool:
        yield await open_unit.connection()
        return
    async with pool.connection() as conn:
        yield conn
