"""PostgreSQL connections that answer within a bound or are dropped, and the pool every service uses.

libpq has no read timeout, and a frozen server (SIGSTOP, a hung host) still acknowledges TCP, so a
statement on a pooled connection could wait forever: pool checks hang, requests pile up and clients
time out with no answer. Here every wait for the server is bounded: past `answer_within_s` the
socket is shut down, the statement fails with an OperationalError that says so (a 503 / `unavailable`
naming PostgreSQL), and the pool discards the connection. A cancelled statement drops its connection
the same way instead of asking a server that may not answer to cancel it (psycopg's own way waits up
to 10 s for that). The pool checks each connection on checkout (dead ones from before a restart are
discarded there) and gives up reconnecting in the background after `reconnect_s`, after which the
next request connects on demand: service resumes about a second after PostgreSQL does.

Usage:

    pool = open_pool(url, answer_within_s=1.5, name="api")
    await pool.open(wait=False)
    async with pool.connection() as conn: ...
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Generator
from typing import Any, ClassVar

import psycopg
from psycopg_pool import AsyncConnectionPool

__all__ = ["BoundedConnection", "bounded_connection", "open_pool"]

log = logging.getLogger(__name__)


class BoundedConnection(psycopg.AsyncConnection[Any]):
    """An AsyncConnection whose every wait for the server lasts at most `answer_within_s`."""

    answer_within_s: ClassVar[float] = 2.0
    _severed: bool = False

    def sever(self) -> None:
        """Shut the socket down (not close: libpq still owns the descriptor), so whatever waits on
        it sees the end of the stream at once and the connection goes bad."""
        if self.closed:
            return
        self._severed = True
        try:
            with socket.fromfd(self.pgconn.socket, socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except (OSError, psycopg.Error) as exc:  # already gone: nothing to cut
            log.debug("could not shut a PostgreSQL socket down: %s", exc)

    async def wait(self, gen: Generator[Any, Any, Any], *args: Any, **kwargs: Any) -> Any:
        timer = asyncio.get_running_loop().call_later(self.answer_within_s, self.sever)
        try:
            return await super().wait(gen, *args, **kwargs)
        except psycopg.OperationalError as exc:
            if self._severed:
                raise psycopg.OperationalError(
                    f"PostgreSQL did not answer within {self.answer_within_s:g} s") from exc
            raise
        finally:
            timer.cancel()

    async def cancel_safe(self, *, timeout: float = 30.0) -> None:
        """Called by psycopg when a statement's task is cancelled: drop the connection rather than
        send a cancel request a frozen server would not answer either."""
        self.sever()


def bounded_connection(answer_within_s: float) -> type[BoundedConnection]:
    """A BoundedConnection class with its own bound (the pool instantiates the class itself)."""
    return type(f"BoundedConnection{answer_within_s:g}".replace(".", "_"), (BoundedConnection,),
                {"answer_within_s": answer_within_s})


def open_pool(url: str, *, answer_within_s: float, checkout_s: float | None = None, min_size: int = 2,
              max_size: int = 10, reconnect_s: float = 1.5, name: str | None = None,
              autocommit: bool = True) -> AsyncConnectionPool[Any]:
    """A pool (not yet opened: `await pool.open(wait=False)`) of bounded connections.

    `checkout_s` bounds the wait for a free or new connection (default: the answer bound);
    connecting is bounded by libpq's `connect_timeout` (whole seconds, at least 2)."""
    pools: list[AsyncConnectionPool[Any]] = []
    sweeps: set[asyncio.Task[None]] = set()  # held until done (the loop keeps only weak references)

    async def check(conn: psycopg.AsyncConnection[Any]) -> None:
        """psycopg's checkout check, and on a dead connection a sweep of the idle ones: after a
        restart every pooled connection is dead, and the pool backs off ~1 s per dead one it meets,
        so a pool grown to six would fail checkouts for several requests in a row."""
        try:
            await AsyncConnectionPool.check_connection(conn)
        except Exception:
            if pools and not getattr(pools[0], "_spotctl_sweeping", False):
                sweeps.add(task := asyncio.get_running_loop().create_task(_sweep(pools[0])))
                task.add_done_callback(sweeps.discard)
            raise

    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url, connection_class=bounded_connection(answer_within_s), min_size=min_size, max_size=max_size,
        open=False, timeout=checkout_s or answer_within_s, name=name,
        kwargs={"autocommit": autocommit, "connect_timeout": max(2, round(answer_within_s))},
        check=check, reconnect_timeout=reconnect_s)
    pools.append(pool)
    return pool


async def _sweep(pool: AsyncConnectionPool[Any]) -> None:
    """`pool.check()`: every idle connection is tried, the dead ones replaced (one sweep at a time)."""
    pool._spotctl_sweeping = True  # type: ignore[attr-defined]
    try:
        await pool.check()
    except Exception as exc:  # the server went away again: the next checkout finds out
        log.debug("PostgreSQL pool sweep: %s", exc)
    finally:
        pool._spotctl_sweeping = False  # type: ignore[attr-defined]
