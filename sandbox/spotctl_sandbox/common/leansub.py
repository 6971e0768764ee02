"""A lean Redis pub/sub subscription: the hub's bus read without redis-py's `PubSub` (issue 18).

redis-py's `PubSub.get_message` wraps every message off the bus in its `Retry` and `asyncio.timeout`
machinery (11.6 % of the hub's samples in the per-message profile). Here the bytes of one uvloop
transport are parsed by hiredis as they arrive into a deque of (channel, payload) pairs, and `read`
takes a bounded burst of them at once, waiting (one future, one timer) only when the deque is empty.

Like redis-py's PubSub it holds the channels it was asked for and subscribes to all of them again on
every new connection: a lost connection (Redis restarted, the client killed) fails the `read` waiting
on it with redis-py's ConnectionError, and the next `read` connects again (failing the same way while
Redis is down); a channel subscribed while disconnected is sent on connect. A Redis that answers but
refuses (AUTH, or a SUBSCRIBE an ACL forbids: NOPERM) is not down for a moment: it is tried again less
and less often (`Refusals`), said once, and once more when a SUBSCRIBE is taken again. Single Redis
over TCP only, like common/leanredis.py (whose settings `beside` takes); pub/sub has no database to select.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, cast

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .leanredis import LeanRedis, error_of, open_wire, pack

log = logging.getLogger("spotctl_sandbox.leansub")

Message = tuple[bytes, bytes]  # (channel, payload), as Redis sent them
HIGH_WATER = 20_000  # messages parsed ahead of the reader; past it the socket is left unread, so a hub
# that falls behind leaves the backlog in Redis, whose pub/sub output limit judges it (as with redis-py)


@dataclass
class Refusals:
    """When to try again a subscription Redis refused: `first_s` after the first refusal, twice as
    long after each next one, up to `cap_s`; a SUBSCRIBE taken ends the run. A refusal (an ACL without
    channel permissions) lasts until someone changes the ACL: tried every 0.1 s like an outage, it cost
    a connection and a log line each time. Pure: the caller gives the time."""

    first_s: float = 0.1
    cap_s: float = 5.0
    since: float | None = None  # when the run of refusals began; None while none is outstanding
    delay_s: float = 0.0
    next_at: float = 0.0

    def refused(self, now: float) -> bool:
        """Count a refusal; True if it begins a run (the one to say)."""
        first = self.since is None
        if first:
            self.since, self.delay_s = now, self.first_s
        else:
            self.delay_s = min(self.delay_s * 2, self.cap_s)
        self.next_at = now + self.delay_s
        return first

    def wait_s(self, now: float) -> float:
        """How long until the next try may be made (0: now)."""
        return 0.0 if self.since is None else max(0.0, self.next_at - now)

    def taken(self, now: float) -> float | None:
        """A SUBSCRIBE was taken: how long the run of refusals lasted, if one ended."""
        if self.since is None:
            return None
        lasted, self.since, self.delay_s = now - self.since, None, 0.0
        return lasted


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
                elif reply[0] == b"subscribe":  # the held set is what counts, but Redis takes it again
                    self.sub.taken()
            elif self.answer is not None and not self.answer.done():
                if isinstance(reply, hiredis.ReplyError):
                    self.answer.set_exception(error_of(reply))
                else:
                    self.answer.set_result(reply)
            elif isinstance(reply, hiredis.ReplyError):  # a refused SUBSCRIBE: start again, later and later
                self.sub.refused(self, error_of(reply))
                return
            else:  # a reply nobody asked for: start again
                self.sub.failed(self, RedisConnectionError("Redis answered a command that was not sent"))
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
        self.refusals = Refusals()
        self._refusal: ResponseError | None = None  # the last one, raised again while backing off

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

    def refused(self, wire: _Wire, exc: ResponseError) -> None:
        """Redis refused what `wire` sent: it fails as any lost connection, and the next connection
        waits its turn (`Refusals`); said at the first refusal of a run only."""
        if not wire.lost:
            self._refusal = exc
            if self.refusals.refused(time.monotonic()):
                log.warning("Redis at %s:%d refused the pub/sub subscription (%s): tried again %.1f s later, "
                            "then less and less often (at most every %.0f s)", self.host, self.port, exc,
                            self.refusals.first_s, self.refusals.cap_s)
        self.failed(wire, exc)

    def taken(self) -> None:
        """A SUBSCRIBE was confirmed (once per channel: nothing to say unless refusals were outstanding)."""
        lasted = self.refusals.taken(time.monotonic())
        if lasted is not None:
            log.warning("Redis at %s:%d took the pub/sub subscription again after %.1fs of refusals",
                        self.host, self.port, lasted)

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
            wait = self.refusals.wait_s(time.monotonic())
            if wait > 0 and self._refusal is not None:  # not another connection to be refused at once
                raise type(self._refusal)(f"{self._refusal} (tried again in {wait:.1f}s)")
            wire = await open_wire(lambda: _Wire(self), self.host, self.port, self.timeout_s)
            try:
                if self.password is not None:
                    auth = (self.username, self.password) if self.username else (self.password,)
                    await asyncio.wait_for(wire.ask(pack(("AUTH", *auth))), self.timeout_s)
            except TimeoutError:
                self.failed(wire, RedisTimeoutError("Redis did not answer AUTH"))
                raise RedisTimeoutError(f"Redis at {self.host}:{self.port} did not answer AUTH in time") from None
            except ResponseError as exc:  # AUTH refused: as a refused SUBSCRIBE
                self.refused(wire, exc)
                raise
            except BaseException:
                self.failed(wire, RedisConnectionError("Redis refused the connection's set-up"))
                raise
            if wire.lost:
                raise RedisConnectionError(f"connection to Redis at {self.host}:{self.port} lost at set-up")
            self._wire = wire  # from here every subscribe() is sent on it: none can fall in between
            if self.channels:
                wire.send("SUBSCRIBE", *self.channels)
            self._connects += 1
            if self._connects > 1 and self.refusals.since is None:  # else `taken` says it
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
