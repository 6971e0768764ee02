"""The WebSocket Locust user every hub scenario builds on: connect, join a room, receive, count.

Connections are paced by Locust's spawn rate and retried with backoff; a handshake that fails after
the retries is a failure of its own, apart from a drop (an open connection the server ended). Most
users are passive readers; one in `probe_every` decodes every delivery and times it from the
publisher's *scheduled* send time, so a stalled publisher cannot hide latency (coordinated omission).
"""

from __future__ import annotations

import functools
import itertools
import random
import time
from pathlib import Path
from typing import Any, ClassVar

import gevent
from locust import User, constant, task

from . import distributed, metrics
from .config import RunConfig
from .metrics import COUNTERS, RAMPED, STOPPING
from .passive import PassiveReader
from .wire import ADAPTERS, Adapter, Decoded, Kind
from .wsclient import ConnectionDropped, HandshakeFailed, WsConnection

CONFIG = RunConfig.from_env()
CONNECT_ATTEMPTS = 6
READY_TIMEOUT_S = 20.0
_local_index = itertools.count()
_tokens: list[str] | None = None
_tokens_shared = False  # True once the master handed this worker its share (distributed.py)
PASSIVE = PassiveReader(COUNTERS, batch_s=CONFIG.passive_read_s)  # one reader for this worker's passive conns
PROBES = PassiveReader(COUNTERS)  # and one, unpaced, for its probes: each message handled as soon as it is read


def adapter_for(config: RunConfig) -> Adapter:
    if config.target == "hub":
        from .hubwire import HubAdapter

        return HubAdapter()
    return ADAPTERS[config.target]()


def token_for(global_index: int) -> str:
    """Token number `global_index` (minted for account `CONFIG.user_id(global_index)`)."""
    global _tokens
    if _tokens_shared:  # this worker's share: users worker_index, worker_index + workers, ...
        return _tokens[(global_index // max(1, CONFIG.workers)) % len(_tokens)] if _tokens else ""
    if not CONFIG.tokens_file:
        return ""
    if _tokens is None:
        _tokens = Path(CONFIG.tokens_file).read_text().split()
    return _tokens[global_index % len(_tokens)]


def fire(env: Any, name: str, started: float, exc: Exception | None = None, length: int = 0) -> None:
    env.events.request.fire(request_type="WS", name=name, response_time=(time.monotonic() - started) * 1000,
                            response_length=length, exception=exc, context={})


@distributed.on_config
def _adopt(config: RunConfig, tokens: list[str]) -> None:
    """The master's config replaces what this process read from its (possibly empty) environment."""
    global CONFIG, _tokens, _tokens_shared
    CONFIG = config
    _tokens, _tokens_shared = tokens, True
    WsUser.config = config
    WsUser.adapter = adapter_for(config)
    PASSIVE.batch_s = config.passive_read_s


class WsUser(User):
    """One connection, a member of room `room`; each room's leader also publishes on schedule."""

    abstract = True
    wait_time = constant(1)
    config: ClassVar[RunConfig] = CONFIG
    adapter: ClassVar[Adapter] = adapter_for(CONFIG)
    room_publisher: ClassVar[bool] = True   # room leaders run publish_loop
    scan_passive: ClassVar[bool] = True     # non-probe users count frames without parsing them, and probes
                                            # read through a shared reader (on_frame must not block)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.index = next(_local_index)
        self.conn: WsConnection | None = None
        self.probe = self.index % max(1, self.config.probe_every) == 1 % max(1, self.config.probe_every)
        self.greenlets: list[gevent.Greenlet] = []

    @property
    def global_index(self) -> int:
        """Interleaved over workers, so users 0..N-1 are numbered once across the whole run (read after
        the config is in: a worker that joined from elsewhere learns its index from the master)."""
        return self.config.worker_index + self.config.workers * self.index

    # -- room layout: consecutive global indexes, so a room's members sit on every worker --
    @property
    def room(self) -> str:
        return f"{self.config.run_id}-r{self.global_index // max(1, self.config.room_size)}"

    @property
    def is_leader(self) -> bool:
        return self.global_index % max(1, self.config.room_size) == 0

    @property
    def rooms_total(self) -> int:
        return max(1, self.config.users // max(1, self.config.room_size))

    # -- connection lifecycle --
    def connect(self) -> WsConnection:
        """Open, authenticate and join, retrying with backoff; raise HandshakeFailed when out of tries."""
        token = token_for(self.global_index)
        url = self.adapter.url(self.config.url)
        for attempt in range(CONNECT_ATTEMPTS):
            started = time.monotonic()
            conn = WsConnection(url, source=self.config.source_address)
            try:
                conn.open()
                for frame in self.adapter.opening(token):
                    conn.send(frame)
                if self.adapter.needs_ready:
                    self.wait_ready(conn)
                self.after_connect(conn)
            except (HandshakeFailed, ConnectionDropped) as exc:
                conn.close()
                if attempt == CONNECT_ATTEMPTS - 1 or STOPPING.is_set():
                    COUNTERS.handshake_failures += 1
                    fire(self.environment, "connect", started, HandshakeFailed(str(exc)))
                    raise HandshakeFailed(str(exc)) from None
                COUNTERS.handshake_retries += 1
                gevent.sleep(min(8.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.5))
                continue
            COUNTERS.connects += 1
            COUNTERS.connections += 1
            COUNTERS.record_connect(time.monotonic() - started)
            if not COUNTERS.host:
                COUNTERS.host = conn.local_address()
            fire(self.environment, "connect", started)
            return conn
        raise AssertionError("unreachable")

    def wait_ready(self, conn: WsConnection) -> None:
        with gevent.Timeout(READY_TIMEOUT_S, HandshakeFailed("no session acknowledgement in time")):
            for frame in conn.frames():
                decoded = self.adapter.decode(frame)
                if decoded.answer:
                    conn.send(decoded.answer)
                if decoded.kind is Kind.READY:
                    return
                if decoded.kind is Kind.ERROR:
                    raise HandshakeFailed(f"refused: {decoded.data}")
        raise HandshakeFailed("closed before the session was acknowledged")

    def after_connect(self, conn: WsConnection) -> None:
        """Join this user's room; scenarios add their own opening moves."""
        conn.send(self.adapter.subscribe(self.room))

    @task
    def live(self) -> None:
        """Stay connected until Locust stops us: read, count, reconnect after a drop."""
        distributed.wait_configured()
        try:
            self.conn = self.connect()
        except HandshakeFailed:
            COUNTERS.ready += 1
            self.stop_quietly()
            return
        COUNTERS.ready += 1
        self.start_side_tasks()
        while True:
            try:
                self.receive(self.conn)
                return  # closed by us
            except ConnectionDropped as exc:
                COUNTERS.connections -= 1
                self.conn = None
                if STOPPING.is_set():
                    return
                COUNTERS.record_drop(exc.code)
                fire(self.environment, f"drop (close {exc.code or 'without a close frame'})", time.monotonic(), exc)
                try:
                    self.conn = self.connect()
                except HandshakeFailed:
                    self.stop_quietly()
                    return

    def stop_quietly(self) -> None:
        """Park the greenlet: a user that cannot connect must not hammer the server in a loop."""
        while not STOPPING.is_set():
            gevent.sleep(5)

    def receive(self, conn: WsConnection) -> None:
        if self.scan_passive and not self.probe:
            PASSIVE.follow(conn, self.adapter.marker, self.adapter.app_ping)
            return
        if self.scan_passive:
            handle = functools.partial(self.on_messages, conn)
            handle(conn.pending_messages())
            PROBES.follow(conn, self.adapter.marker, self.adapter.app_ping, on_messages=handle)
            return
        for frame in conn.frames():
            decoded = self.adapter.decode(frame)
            if decoded.answer:
                conn.send(decoded.answer)
            self.on_frame(decoded)

    def on_messages(self, conn: WsConnection, messages: list[bytes]) -> None:
        """A probe's messages, as the shared reader reads them: decoded and answered as `frames()`
        would have them, without waiting behind a send."""
        decode = self.adapter.decode
        for message in messages:
            decoded = decode(message)
            if decoded.answer:
                conn.send_soon(decoded.answer)
            self.on_frame(decoded)

    def on_frame(self, decoded: Decoded) -> None:
        if decoded.kind is Kind.DELIVERY:
            COUNTERS.messages += 1
            if self.probe and isinstance(decoded.data, dict) and "ts" in decoded.data:
                self.record(time.time() - float(decoded.data["ts"]))
        elif decoded.kind is Kind.ERROR:
            COUNTERS.errors += 1
            fire(self.environment, f"error frame: {decoded.type}", time.monotonic(),
                 RuntimeError(str(decoded.data)[:200]))

    def record(self, seconds: float) -> None:
        """Time one delivery; not once Locust stops the users: stopping 17k users starves the readers
        for seconds, and deliveries read then were timed at 1–2 s and set the whole run's p99
        (issue 18: a 100k run's p99 1.4 s, its two steps' 17 and 36 ms)."""
        if STOPPING.is_set():
            return
        COUNTERS.record_latency(seconds)
        self.environment.events.request.fire(request_type="WS", name="delivery", response_time=seconds * 1000,
                                             response_length=0, exception=None, context={})

    # -- side tasks: heartbeat and (for leaders) the open-loop publisher --
    def start_side_tasks(self) -> None:
        if self.config.heartbeat_s > 0 and self.adapter.heartbeat() is not None:
            self.greenlets.append(gevent.spawn(self.heartbeat_loop))
        if self.room_publisher and self.is_leader and (self.config.msg_rate > 0 or self.config.steps):
            self.greenlets.append(gevent.spawn(self.publish_loop))

    def heartbeat_loop(self) -> None:
        frame = self.adapter.heartbeat()
        gevent.sleep(random.uniform(0, self.config.heartbeat_s))
        while frame is not None:
            self.safe_send(frame)
            gevent.sleep(self.config.heartbeat_s)

    def publish_loop(self) -> None:
        """Open loop once the ramp is done, at this room's share of the (stepped) rate; messages carry
        their *scheduled* send time, so a late send shows as latency instead of vanishing."""
        RAMPED.wait()
        for seq, scheduled in enumerate(self.config.send_times(self.rooms_total, random.random(), time.time())):
            delay = scheduled - time.time()
            if delay > 0:
                gevent.sleep(delay)
            if self.safe_send(self.message(seq, scheduled)):
                COUNTERS.sent += 1

    def message(self, seq: int, scheduled: float) -> str:
        return self.adapter.publish(self.room, {"ts": scheduled, "seq": seq, "from": self.global_index})

    def safe_send(self, frame: str) -> bool:
        conn = self.conn
        if conn is None:
            return False
        try:
            conn.send(frame)
            return True
        except ConnectionDropped:
            return False  # the receive loop sees the drop and reconnects

    def on_stop(self) -> None:
        gevent.killall(self.greenlets, block=False)
        if self.conn is not None:
            COUNTERS.connections -= 1
            self.conn.close()
            self.conn = None


def install(environment: Any, *, measures_latency: bool) -> None:
    metrics.install(environment, CONFIG, measures_latency=measures_latency)
