"""Hub users that talk request/response: requests carry an `id`, replies come back with `reply_to`,
and each pair becomes one Locust request (timed, failed when the hub answers with an error)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import gevent

from .hubwire import envelope
from .metrics import COUNTERS
from .users import WsUser, fire
from .wire import Decoded, Kind
from .wsclient import ConnectionDropped, WsConnection

REQUEST_TIMEOUT_S = 15.0


class HubUser(WsUser):
    abstract = True
    scan_passive = False  # replies must be parsed to be matched

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.pending: dict[str, tuple[str, float]] = {}
        self.ids = itertools.count()

    def request(self, kind: str, content: dict[str, Any]) -> None:
        """Fire and forget: the reply is matched (and timed) in on_frame."""
        rid = f"{kind[:8]}{next(self.ids)}"
        self.pending[rid] = (kind, time.monotonic())
        if not self.safe_send(envelope(kind, content, rid)):
            self.pending.pop(rid, None)

    def call(self, conn: WsConnection, kind: str, content: dict[str, Any]) -> dict[str, Any]:
        """Send and wait for the reply on a connection still being set up (before the read loop)."""
        rid = f"{kind[:8]}{next(self.ids)}"
        started = time.monotonic()
        conn.send(envelope(kind, content, rid))
        with gevent.Timeout(REQUEST_TIMEOUT_S, ConnectionDropped(f"no reply to {kind} in time")):
            for frame in conn.frames():
                decoded = self.adapter.decode(frame)
                if decoded.reply_to != rid:
                    self.on_frame(decoded)
                    continue
                if decoded.kind is Kind.ERROR:
                    exc = ConnectionDropped(f"{kind} refused: {decoded.data}")
                    fire(self.environment, kind, started, exc)
                    raise exc
                fire(self.environment, kind, started)
                return dict(decoded.data or {})
        raise ConnectionDropped(f"closed while waiting for the reply to {kind}")

    def on_frame(self, decoded: Decoded) -> None:
        if decoded.reply_to is not None and decoded.reply_to in self.pending:
            kind, started = self.pending.pop(decoded.reply_to)
            error = decoded.kind is Kind.ERROR
            if error:
                COUNTERS.errors += 1
            fire(self.environment, kind, started, RuntimeError(str(decoded.data)) if error else None)
            return
        super().on_frame(decoded)
