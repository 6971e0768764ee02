"""A lean Redis pub/sub subscription: the hub's bus read without redis-py's `PubSub` (issue 18).

redis-py's `PubSub.get_message` wraps every message off the bus in its `Retry` and `asyncio.timeout`
machinery (11.6 % of the hub's samples in the per-message profile). Here the bytes of one uvloop
transport are parsed by hiredis as they arrive into a deque of (channel, payload) pairs, and `read`
takes a bounded burst of them at once, waiting (one future, one timer) only when the deque is empty.

Like redis-py's PubSub it holds the channels it was asked for and subscribes to all of them again on
every new connection: a lost connection (Redis restarted, the client killed) fails the `read` waiting
on it with redis-py's ConnectionError, and the next `read` connects again (failing the same way while
Redis is down); a channel subscribed while disconnected is sent on connect. Single Redis over TCP
only, like common/leanredis.py (whose settings `beside` takes); pub/sub has no database to select.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, cast

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .leanredis import LeanRedis, error_of, open_wire, pack

log = logging.getLogger("spotctl_sandbox.leansub")

Message = tuple[bytes, bytes]  # (channel, payload), as Redis sent them
HIGH_WATER = 20_000  # messages parsed ahead of the reader; past it the socket is left unread, so a hub
# that falls behind leaves the backlog in Redis, whose pub/sub output limit judges it (as with redis-py)


class _Wire(asyncio.Protocol):
    """One connection: `message` pushes go to the subscription's deque; other replies answer `ask`."""

    def __init__(self, sub: LeanSub) -> None:
        self.sub, self.pending = sub, sub.pending
        self.loop = asyncio.get_running_loop()  # kept for `read`'s waits: each lookup is a getpid() on 3.11
        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None
        self.answer: asyncio.Future[Any] | None = None  # the set-up command's reply (AUTH)
        self.lost = self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is one, without subclassing it

    def ask(self, command: bytes) -> asyncio.Future[Any]:
        assert self.transport is not None
        self.answer = self.loop.create_future()
        self.transport.write(command)
        return self.answer

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        pending = self.pending
        before = len(pending)
        while (reply := self.reader.gets()) is not False:
            if type(reply) is list:
                if reply[0] == b"message":
                    pending.append((reply[1], reply[2]))
                # else a (un)subscribe confirmation: the held set is what counts
            elif self.answer is not None and not self.answer.done():
                if isinstance(reply, hiredis.ReplyError):
                    self.answer.set_exception(error_of(reply))
                else:
                    self.answer.set_result(reply)
            else:  # an error (a refused SUBSCRIBE) or a reply nobody asked for: start again
                self.sub.failed(self, error_of(reply) if isinstance(reply, hiredis.ReplyError) else
                                RedisConnectionError("Redis answered a command that was not sent"))
                return
        if len(pending) > before:
            self.sub.wake()
            if len(pending) >= HIGH_WATER and not self.paused and self.transport is not None:
                self.paused = True
                self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.sub.failed(self, RedisConnectionError(f"pub/sub connection to Redis lost: {exc or 'closed'}"))

    def send(self, *args: str | bytes | int) -> None:
        if not self.lost and self.transport is not None and not self.transport.is_closing():
            self.transport.write(pack(args))


class LeanSub:
    """The channels one reader follows on one Redis, read in bursts by one task."""

    def __init__(self, host: str, port: int, *, username: str | None = None, password: str | None = None,
                 timeout_s: float = 1.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.username, self.password = username, password
        self.channels: set[str] = set()  # held: subscribed again on every new connection
        self.pending: deque[Message] = deque()
        self._wire: _Wire | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._connects = 0
        self._connecting: asyncio.Lock | None = None
        self._closed = False

    @classmethod
    def beside(cls, lean: LeanRedis) -> LeanSub:
        """A subscription to the Redis `lean` talks to, with its credentials and bound."""
        return cls(lean.host, lean.port, username=lean.username, password=lean.password, timeout_s=lean.timeout_s)

    @property
    def connected(self) -> bool:
        return self._wire is not None and not self._wire.lost

    def subscribe(self, channel: str) -> None:
        """Follow `channel` from now on (sent now if connected, else on connect)."""
        if channel not in self.channels:
            self.channels.add(channel)
            if self._wire is not None:
                self._wire.send("SUBSCRIBE", channel)

    def unsubscribe(self, channel: str) -> None:
        if channel in self.channels:
            self.channels.discard(channel)
            if self._wire is not None:
                self._wire.send("UNSUBSCRIBE", channel)

    async def read(self, timeout: float, max_frames: int, max_bytes: int) -> list[Message]:
        """The messages that came since the last read, at most `max_frames` or about `max_bytes`
        (waiting up to `timeout` for the first); redis-py's ConnectionError if the connection was lost
        or cannot be made."""
        if self.pending:
            await asyncio.sleep(0)  # a backlog is read a burst at a time: let the loop's others run between
        else:
            if self._wire is None or self._wire.lost:
                await self.connect()
            if not self.pending:
                await self._wait(timeout)
        return self._take(max_frames, max_bytes)

    def _take(self, max_frames: int, max_bytes: int) -> list[Message]:
        pending, size = self.pending, 0
        burst: list[Message] = []
        while pending and len(burst) < max_frames and size < max_bytes:
            message = pending.popleft()
            burst.append(message)
            size += len(message[1])
        wire = self._wire
        if wire is not None and wire.paused and len(pending) < HIGH_WATER // 2 and wire.transport is not None:
            wire.paused = False
            wire.transport.resume_reading()
        return burst

    async def _wait(self, timeout: float) -> None:
        """Until `wake` (a message came) or `timeout`; on the connection's loop, which `read` made or
        found before waiting (asking asyncio for the running loop was a getpid() per wait on Python
        3.11: ~2 % of a worker's samples at 1,000 msgs/s, issue 18)."""
        loop = self._wire.loop if self._wire is not None else asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(timeout, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def failed(self, wire: _Wire, exc: Exception) -> None:
        """`wire` is done for: the read waiting on it gets `exc`; the next read connects again."""
        if wire.lost:
            return
        wire.lost = True
        if wire.transport is not None:
            wire.transport.abort()
        if wire.answer is not None and not wire.answer.done():
            wire.answer.set_exception(exc)
        if wire is self._wire and self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    async def connect(self) -> None:
        """Make the connection (if there is none) and subscribe to every held channel on it."""
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._closed:
                raise RedisConnectionError("the pub/sub connection is closed")
            if self._wire is not None and not self._wire.lost:
                return
            self._wire = None
            wire = await open_wire(lambda: _Wire(self), self.host, self.port, self.timeout_s)
            try:
                if self.password is not None:
                    auth = (self.username, self.password) if self.username else (self.password,)
                    await asyncio.wait_for(wire.ask(pack(("AUTH", *auth))), self.timeout_s)
            except TimeoutError:
                self.failed(wire, RedisTimeoutError("Redis did not answer AUTH"))
                raise RedisTimeoutError(f"Redis at {self.host}:{self.port} did not answer AUTH in time") from None
            except BaseException:
                self.failed(wire, RedisConnectionError("Redis refused the connection's set-up"))
                raise
            if wire.lost:
                raise RedisConnectionError(f"connection to Redis at {self.host}:{self.port} lost at set-up")
            self._wire = wire  # from here every subscribe() is sent on it: none can fall in between
            if self.channels:
                wire.send("SUBSCRIBE", *self.channels)
            self._connects += 1
            if self._connects > 1:
                log.warning("pub/sub connection to Redis at %s:%d made again: %d channel(s) subscribed again",
                            self.host, self.port, len(self.channels))

    def close(self) -> None:
        self._closed = True
        if self._wire is not None:
            self.failed(self._wire, RedisConnectionError("the pub/sub connection is closed"))
            self._wire = None


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
