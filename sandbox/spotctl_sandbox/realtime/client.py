"""A small asyncio client for the hub with auto-reconnect, backoff with jitter, and resume.

    async with HubClient("ws://127.0.0.1:8765/ws", token) as hub:
        await hub.request("join", {"room": "lobby"})          # reply content, or HubError
        await hub.send("room_message", {"room": "lobby", "data": "hi"})
        async for frame in hub:                                # every pushed frame, in order
            print(frame["type"], frame["content"])

After a drop (network, server restart, a `reconnect` notice) it reconnects after an exponentially
growing delay with jitter, passes the last durable message id so the server replays what was missed,
and re-sends the subscriptions it made (join, channel_join, session_join, playlist_open). It does not
reconnect after a policy close (1008: bad token, replaced by a newer connection): those raise. After
a rate-limit close (1013) it waits at least the `retry_after_ms` the hub's last `rate_limited` said.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
from collections import deque
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from . import keys, protocol

RESUBSCRIBE = {"join": "leave", "channel_join": "channel_leave", "session_join": "session_leave",
               "playlist_open": "playlist_close"}
NO_RECONNECT_CODES = {code for code in protocol.CloseCode if not code.retry}


class HubError(Exception):
    """An error frame from the hub (`code`, `message`), or a connection the client will not retry."""

    def __init__(self, code: str, message: str, content: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message
        self.content = content or {}  # the error frame's content (`dependency`, `retry_after_ms`, ...)


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random | None = None) -> float:
    """Equal jitter: half the exponential step is fixed, half random, so a crowd spreads out."""
    step = min(maximum, initial * 2.0 ** attempt)
    jitter = rng.uniform(0, step / 2) if rng is not None else random.uniform(0, step / 2)
    return step / 2 + jitter


class HubClient:
    def __init__(self, url: str, token: str, *, namespace: str = keys.DEFAULT_NAMESPACE,
                 reconnect: bool = True, backoff_initial: float = 0.25, backoff_max: float = 15.0,
                 max_attempts: int = 20, open_timeout: float = 10.0) -> None:
        self.url, self.token, self.namespace = url, token, namespace
        self.reconnect, self.max_attempts, self.open_timeout = reconnect, max_attempts, open_timeout
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.last_id: str | None = None  # last durable (replayable) frame id seen
        self.welcome: dict[str, Any] | None = None
        self.connects = 0
        self._ws: ClientConnection | None = None
        self._frames: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._subscriptions: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self._seen: deque[str] = deque(maxlen=1024)
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self._retry_after: float | None = None

    @property
    def user_id(self) -> str:
        """Who the hub says we are (from the `welcome` frame)."""
        if self.welcome is None:
            raise HubError("closed", "not connected yet")
        return str(self.welcome["user_id"])

    async def __aenter__(self) -> HubClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _url(self) -> str:
        query = {"token": self.token, "ns": self.namespace}
        if self.last_id:
            query["last_id"] = self.last_id
        return f"{self.url}{'&' if '?' in self.url else '?'}{urlencode(query)}"

    async def connect(self) -> dict[str, Any]:
        """Open the connection and wait for the `welcome` frame (HubError if refused)."""
        ws = await connect(self._url(), open_timeout=self.open_timeout, max_size=2**22, compression=None)
        first = json.loads(await ws.recv())
        if first["type"] != "welcome":
            await ws.close()
            raise HubError(first["content"].get("code", "refused"), first["content"].get("message", ""))
        self._ws, self.welcome = ws, first["content"]
        self.connects += 1
        self._reader = asyncio.get_running_loop().create_task(self._read(ws))
        for kind, content in list(self._subscriptions.values()):
            await self._send(kind, content, None)
        return self.welcome

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def send(self, kind: str, content: dict[str, Any] | None = None) -> str:
        """Send one message; returns the request id its reply will carry as `reply_to`."""
        request_id = f"c{next(self._ids)}"
        self._remember(kind, content or {})
        await self._send(kind, content or {}, request_id)
        return request_id

    async def request(self, kind: str, content: dict[str, Any] | None = None, timeout: float = 10.0) -> Any:
        """Send and wait for the reply's content; an error frame raises HubError."""
        request_id = f"c{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = future
        self._remember(kind, content or {})
        try:
            await self._send(kind, content or {}, request_id)
            reply = await asyncio.wait_for(future, timeout)
        finally:
            self._replies.pop(request_id, None)
        if reply["type"] == "error":
            raise HubError(reply["content"]["code"], reply["content"]["message"], reply["content"])
        return reply["content"]

    async def recv(self, timeout: float | None = None) -> dict[str, Any]:
        """The next pushed frame (replies to `request` are not included)."""
        item = await asyncio.wait_for(self._frames.get(), timeout)
        if isinstance(item, BaseException):
            raise item
        return item

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self.recv()

    def _remember(self, kind: str, content: dict[str, Any]) -> None:
        if kind in RESUBSCRIBE:
            self._subscriptions[(kind, json.dumps(content, sort_keys=True))] = (kind, content)
        undo = {v: k for k, v in RESUBSCRIBE.items()}.get(kind)
        if undo is not None:
            self._subscriptions.pop((undo, json.dumps(content, sort_keys=True)), None)

    async def _send(self, kind: str, content: dict[str, Any], request_id: str | None) -> None:
        frame = protocol.request(kind, content, request_id)
        for _ in range(2):
            ws = self._ws
            if ws is None:
                raise HubError("closed", "not connected")
            try:
                await ws.send(frame)
                return
            except ConnectionClosed:
                await asyncio.sleep(0.05)  # the reader is reconnecting; try once more
        raise HubError("closed", "connection lost while sending")

    def _accept(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "error" and frame["content"].get("code") == protocol.ErrorCode.RATE_LIMITED:
            self._retry_after = frame["content"].get("retry_after_ms", 0) / 1000
        reply_to = frame.get("reply_to")
        if reply_to is not None and reply_to in self._replies:
            future = self._replies[reply_to]
            if not future.done():
                future.set_result(frame)
            return
        frame_id = str(frame.get("id", ""))
        durable = keys.is_stream_id(frame_id)
        if durable or frame_id.startswith("n_"):
            if frame_id in self._seen:
                return  # replayed (or pending and live at once) and already delivered
            self._seen.append(frame_id)
        if durable and (self.last_id is None or _stream_key(frame_id) > _stream_key(self.last_id)):
            self.last_id = frame_id
        if frame["type"] == "reconnect":
            self._retry_after = frame["content"].get("retry_after_ms", 0) / 1000
        self._frames.put_nowait(frame)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self._accept(json.loads(raw))
        except ConnectionClosed:
            pass
        if self._closed:
            return
        code = ws.close_code or 1006
        if not self.reconnect or code in NO_RECONNECT_CODES:
            self._fail(HubError("closed", f"closed by the hub ({code}: {ws.close_reason or ''})"))
            return
        await self._reconnect()

    async def _reconnect(self) -> None:
        self._ws = None
        for attempt in range(self.max_attempts):
            delay = backoff_delay(attempt, self.backoff_initial, self.backoff_max)
            if self._retry_after is not None:
                delay, self._retry_after = max(delay, self._retry_after), None
            await asyncio.sleep(delay)
            try:
                await self.connect()
                return
            except HubError as exc:
                self._fail(exc)
                return
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError):
                continue
        self._fail(HubError("unreachable", f"gave up after {self.max_attempts} reconnect attempts"))

    def _fail(self, exc: BaseException) -> None:
        for future in self._replies.values():
            if not future.done():
                future.set_exception(exc)
        self._frames.put_nowait(exc)


def _stream_key(frame_id: str) -> tuple[int, int]:
    ms, _, seq = frame_id.partition("-")
    return int(ms), int(seq)
