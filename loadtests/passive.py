"""One reader per Locust worker for every passive connection: an epoll set, not a greenlet per socket.

A greenlet blocked in `recv` per connection pays, for each delivery, a failed non-blocking recv (an
exception), two greenlet switches and a libev watcher start and stop (epoll_ctl) around the one recv
that carries data: at 10k deliveries/s that was half of each generator worker's CPU (py-spy, rooms of
50). Passive connections only count deliveries and answer pings, so one greenlet waits on an epoll
set and reads just the sockets the kernel reports ready. Where there is no epoll (Windows, macOS)
each connection reads in its own greenlet, as before.

With `batch_s` > 0 the reader does not wake for every frame: every tick it reads a share of the ready
sockets, oldest first, paced so that each is read about every `batch_s`. The kernel holds the frames
meanwhile (a few hundred bytes per connection) and one read takes all of them. The server writes every
frame when it would anyway; only the generator's CPU per delivery drops. (Sweeping all sockets at once
every `batch_s` starved the probes for the length of the sweep: p99 235 ms at 5k deliveries/s.)
Probes read at once, so latency is measured as before: a second reader, unpaced, hands each probe's
messages to it as the read returns them (a greenlet per probe paid the same per-frame price as above,
plus websockets' frame parser: at ~42k deliveries/s the one probe in ten was half the generator's CPU).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import gevent
from gevent.event import AsyncResult
from gevent.monkey import get_original

from .framescan import FrameScanner
from .wsclient import ConnectionDropped, WsConnection

log = logging.getLogger(__name__)

RECV_BYTES = 65536
MAX_EVENTS = 1024  # sockets read per wake-up before other greenlets get a turn
TICK_S = 0.02      # paced mode: how often a share of the ready sockets is read


@dataclass(eq=False, slots=True)
class _Watched:
    conn: WsConnection
    scanner: FrameScanner
    app_pong: str | None
    on_messages: Callable[[list[bytes]], None] | None = None  # a probe's: every data message, in order
    ended: AsyncResult = field(default_factory=AsyncResult)  # set to the reason the connection ended


class Counts(Protocol):
    messages: int


class PassiveReader:
    """Deliveries are added to `counts.messages` (the worker's COUNTERS)."""

    def __init__(self, counts: Counts, *, batch_s: float = 0.0) -> None:
        self.counts = counts
        self.batch_s = batch_s
        try:
            self.epoll: select.epoll | None = get_original("select", "epoll")()  # gevent's patch hides it
        except AttributeError:
            self.epoll = None
        self.watched: dict[int, _Watched] = {}
        self.greenlet: gevent.Greenlet | None = None

    def follow(self, conn: WsConnection, marker: bytes, app_ping: tuple[bytes, str] | None = None,
               on_messages: Callable[[list[bytes]], None] | None = None) -> None:
        """Count `conn`'s deliveries until it ends: return if we closed it, else raise ConnectionDropped.

        `app_ping` is the protocol's own ping frame and its answer (Engine.IO: "2" -> "3"), if any.
        With `on_messages` nothing is counted here: every data message's payload goes to it instead
        (it decodes, counts and answers them), as soon as it is read.
        """
        assert conn.sock is not None, "open() first"
        ping, pong = app_ping or (None, None)
        if on_messages is not None:
            ping = pong = None  # the protocol's pings are data messages the callback answers
        scanner = FrameScanner(marker, app_ping=ping, keep=on_messages is not None)
        watched = _Watched(conn, scanner, pong, on_messages)
        reason = self._wait_shared(conn.sock.fileno(), watched) if self.epoll else self._read_alone(watched)
        if not conn.closing:
            raise ConnectionDropped(reason, watched.scanner.close_code)

    def _wait_shared(self, fd: int, watched: _Watched) -> str:
        assert self.epoll is not None
        self.watched[fd] = watched
        self.epoll.register(fd, select.EPOLLIN)
        if self.greenlet is None:
            self.greenlet = gevent.spawn(self._run)
        try:
            return str(watched.ended.get())
        finally:
            self._forget(fd, watched)

    def _read_alone(self, watched: _Watched) -> str:
        sock = watched.conn.sock
        assert sock is not None
        while True:
            try:
                reason = self._feed(watched, sock.recv(RECV_BYTES))
            except OSError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if reason is not None:
                return reason

    def _forget(self, fd: int, watched: _Watched) -> None:
        if self.watched.get(fd) is watched and self.epoll is not None:  # the fd may be a newer socket's
            del self.watched[fd]
            with contextlib.suppress(OSError, ValueError):
                self.epoll.unregister(fd)

    def _run(self) -> None:
        assert self.epoll is not None
        hub = gevent.get_hub()
        ready = hub.loop.io(self.epoll.fileno(), 1)  # level-triggered: fires while any socket is ready
        while True:
            if self.batch_s > 0:
                # Paced: epoll hands out ready sockets oldest first, so a small share every tick reads
                # each about every batch_s without a burst that would starve the probes.
                gevent.sleep(TICK_S)
                budget = math.ceil(len(self.watched) * TICK_S / self.batch_s)
            else:
                hub.wait(ready)
                budget = MAX_EVENTS  # the watcher fires again for whatever is left
            for fd, _ in self.epoll.poll(0, max(1, min(budget, MAX_EVENTS))):
                self._service(fd)

    def _service(self, fd: int) -> None:
        watched = self.watched.get(fd)
        if watched is None:
            return
        try:
            reason = self._feed(watched, os.read(fd, RECV_BYTES))
        except BlockingIOError:
            return
        except OSError as exc:
            reason = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # one bad socket must not stop the reader for all
            log.exception("passive reader")
            reason = f"reader error: {exc}"
        if reason is not None:
            self._forget(fd, watched)
            watched.ended.set(reason)

    def _feed(self, watched: _Watched, data: bytes) -> str | None:
        """Count the deliveries `data` completes and answer its pings; why the connection ended, if it did."""
        if not data:
            return "server closed the TCP connection"
        scanner = watched.scanner
        count, pings = scanner.feed(data)
        self.counts.messages += count
        if scanner.payloads and watched.on_messages is not None:
            messages, scanner.payloads = scanner.payloads, []
            watched.on_messages(messages)
        if pings:
            watched.conn.answer_pings(pings)
        if watched.scanner.app_pings and watched.app_pong is not None:
            watched.scanner.app_pings = 0
            watched.conn.send_soon(watched.app_pong)
        if watched.scanner.closed:
            return f"closed by server (code {watched.scanner.close_code})"
        return None

