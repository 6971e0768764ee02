"""A lean, shared, pipelined Redis connection for a hot path's few commands (the hub's per-message ones).

redis-py spends ~100 µs of the hub's CPU per call on its pool checkout, retry and timeout wrappers and
command packing (py-spy, issue 18: two calls per client message were ~20 % of a worker). Here a call
is one write on one connection that every caller shares, its reply matched in order (Redis answers in
order) and parsed by hiredis. Commands issued in the same loop tick leave in one socket write (flushed
by `call_soon`): a send to Redis per call was most of these calls' cost in the hub's profile. Errors are
redis-py's (ConnectionError, TimeoutError, ResponseError, NoScriptError), so callers handle them as
before; a call that does not answer within the bound fails with TimeoutError and closes the connection
(a late reply would answer the wrong caller), and the next call connects again.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar, cast

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError


def pack(args: tuple[str | bytes | int, ...]) -> bytes:
    """One command in RESP: `*N` then `$len` + bytes per argument."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


P = TypeVar("P", bound=asyncio.Protocol)


async def open_wire(factory: Callable[[], P], host: str, port: int, timeout_s: float) -> P:
    """A TCP connection to Redis made within the bound, its failures as redis-py's errors."""
    loop = asyncio.get_running_loop()
    try:
        _, wire = await asyncio.wait_for(loop.create_connection(factory, host, port), timeout_s)
    except TimeoutError:
        raise RedisTimeoutError(f"connecting to Redis at {host}:{port} timed out") from None
    except OSError as exc:
        raise RedisConnectionError(f"cannot connect to Redis at {host}:{port}: {exc}") from None
    return wire


def error_of(reply: hiredis.ReplyError) -> ResponseError:
    text = str(reply)
    return NoScriptError(text) if text.startswith("NOSCRIPT") else ResponseError(text)


class _Wire(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.outgoing: list[bytes] = []  # commands of this tick, written together by `flush`
        self.loop = asyncio.get_running_loop()  # kept: each lookup is a getpid() on Python 3.11
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def queue(self, command: bytes) -> asyncio.Future[Any]:
        """Send `command` with the others of this tick; the future gets its reply (in order)."""
        waiter: asyncio.Future[Any] = self.loop.create_future()
        self.waiting.append(waiter)
        if not self.outgoing:
            self.loop.call_soon(self.flush)
        self.outgoing.append(command)
        return waiter

    def flush(self) -> None:
        commands, self.outgoing = self.outgoing, []
        if commands and not self.lost and self.transport is not None:  # lost: their callers have failed
            self.transport.write(commands[0] if len(commands) == 1 else b"".join(commands))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is one, without subclassing it

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if not self.waiting:  # a reply nobody asked for: the stream is out of step
                self.fail(RedisConnectionError("Redis answered a command that was not sent"))
                return
            waiter = self.waiting.popleft()
            if waiter.done():  # its caller was cancelled
                continue
            if isinstance(reply, hiredis.ReplyError):
                waiter.set_exception(error_of(reply))
            else:
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail_waiting(RedisConnectionError(f"connection to Redis lost: {exc or 'closed'}"))

    def fail(self, exc: Exception) -> None:
        """Give up on this connection: every caller waiting on it gets `exc`."""
        self.lost = True
        self._fail_waiting(exc)
        if self.transport is not None:
            self.transport.abort()

    def _fail_waiting(self, exc: Exception) -> None:
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_exception(exc)


class LeanRedis:
    """One TCP connection to one Redis (database `db`), opened on first use and again after a failure."""

    def __init__(self, host: str, port: int, *, db: int = 0, username: str | None = None,
                 password: str | None = None, timeout_s: float = 1.0) -> None:
        self.host, self.port, self.db = host, port, db
        self.username, self.password, self.timeout_s = username, password, timeout_s
        self._wire: _Wire | None = None
        self._connecting: asyncio.Lock | None = None

    async def call(self, *args: str | bytes | int) -> Any:
        """Send one command; its reply (bytes, int, list, None) or redis-py's exception."""
        wire = self._wire
        if wire is None or wire.lost:
            wire = await self._connect()
        return await self._send(wire, args)

    async def _send(self, wire: _Wire, args: tuple[str | bytes | int, ...]) -> Any:
        waiter = wire.queue(pack(args))
        timer = wire.loop.call_later(self.timeout_s, _expire, wire, self.timeout_s)
        try:
            return await waiter
        finally:
            timer.cancel()

    async def _connect(self) -> _Wire:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._wire is not None and not self._wire.lost:
                return self._wire  # another caller connected meanwhile
            wire = await open_wire(_Wire, self.host, self.port, self.timeout_s)
            try:
                if self.password is not None:
                    auth = (self.username, self.password) if self.username else (self.password,)
                    await self._send(wire, ("AUTH", *auth))
                if self.db:
                    await self._send(wire, ("SELECT", self.db))
            except BaseException:
                wire.fail(RedisConnectionError("Redis refused the connection's set-up"))
                raise
            self._wire = wire
            return wire

    def close(self) -> None:
        if self._wire is not None:
            self._wire.fail(RedisConnectionError("closed"))
            self._wire = None


def _expire(wire: _Wire, bound_s: float) -> None:
    wire.fail(RedisTimeoutError(f"Redis did not answer within {bound_s:g} s"))


def beside(client: Any, timeout_s: float) -> LeanRedis | None:
    """A lean connection to the Redis a redis-py asyncio client talks to, if it is one server over
    plain TCP (not a cluster, TLS or a unix socket: those stay with redis-py)."""
    import redis.asyncio as aioredis

    pool = getattr(client, "connection_pool", None)
    if not isinstance(client, aioredis.Redis) or pool is None or pool.connection_class is not aioredis.Connection:
        return None
    kw = pool.connection_kwargs
    return LeanRedis(kw.get("host", "localhost"), int(kw.get("port", 6379)), db=int(kw.get("db", 0) or 0),
                     username=kw.get("username"), password=kw.get("password"), timeout_s=timeout_s)
