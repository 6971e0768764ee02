"""Wire adapters: how each target spells auth, join, publish and heartbeat, and how to read it back.

Pure functions over text frames (no sockets), so one scenario drives the hub and both baselines and
a test can check the encodings without a server. A decoded frame is a `Decoded`: what it is, its
room/payload for deliveries, and any frame the protocol obliges us to answer with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit


class Kind(StrEnum):
    READY = "ready"          # the session is usable (auth accepted / namespace connected)
    JOINED = "joined"        # a subscribe was acknowledged
    DELIVERY = "delivery"    # a room message from another member
    NOTIFICATION = "notification"
    REPLY = "reply"          # any other answer (history, presence, pong, ...)
    ERROR = "error"
    CONTROL = "control"      # transport chatter with nothing to record


@dataclass(frozen=True)
class Decoded:
    kind: Kind
    room: str = ""
    data: Any = None
    answer: str | None = None   # a frame to send back right away (Socket.IO pong, ...)
    type: str = ""              # the target's own message type
    reply_to: str | None = None # the request id a reply answers (hub)


class Adapter(Protocol):
    name: str
    needs_ready: bool
    marker: bytes          # bytes near the start of every delivery frame (for passive counting)
    app_ping: tuple[bytes, str] | None  # (a text frame that is the protocol's ping, its answer)

    def url(self, base: str) -> str: ...
    def opening(self, token: str) -> list[str]: ...
    def subscribe(self, room: str) -> str: ...
    def publish(self, room: str, data: dict[str, Any]) -> str: ...
    def heartbeat(self) -> str | None: ...
    def decode(self, frame: str | bytes) -> Decoded: ...


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


class RoomBroadcast:
    """node-ws/server.js: plain JSON frames, no auth, rooms by subscribe."""

    name = "node-ws"
    needs_ready = False
    marker = b'"type":"message"'
    app_ping = None

    def url(self, base: str) -> str:
        return base

    def opening(self, token: str) -> list[str]:
        return []

    def subscribe(self, room: str) -> str:
        return json.dumps({"type": "subscribe", "room": room})

    def publish(self, room: str, data: dict[str, Any]) -> str:
        return json.dumps({"type": "publish", "room": room, "data": data}, separators=(",", ":"))

    def heartbeat(self) -> str | None:
        return None  # the server pings; websockets answers with pongs

    def decode(self, frame: str | bytes) -> Decoded:
        msg = json.loads(frame)
        kind = msg.get("type")
        if kind == "message":
            return Decoded(Kind.DELIVERY, msg.get("room", ""), msg.get("data"))
        if kind == "subscribed":
            return Decoded(Kind.JOINED, msg.get("room", ""))
        return Decoded(Kind.REPLY, type=str(kind))


class SocketIO:
    """Socket.IO v5 over a raw WebSocket (Engine.IO v4 packets): `0` open, `40` connect, `42` event."""

    name = "socketio"
    needs_ready = True
    marker = b'42["message"'
    app_ping = (b"2", "3")  # Engine.IO ping / pong

    def url(self, base: str) -> str:
        parts = urlsplit(base)
        return urlunsplit(parts._replace(path="/socket.io/", query="EIO=4&transport=websocket"))

    def opening(self, token: str) -> list[str]:
        return ["40"]

    def subscribe(self, room: str) -> str:
        return "42" + json.dumps(["subscribe", {"room": room}])

    def publish(self, room: str, data: dict[str, Any]) -> str:
        return "42" + json.dumps(["publish", {"room": room, "data": data}], separators=(",", ":"))

    def heartbeat(self) -> str | None:
        return None  # Engine.IO pings from the server; decode() answers them

    def decode(self, frame: str | bytes) -> Decoded:
        text = frame.decode() if isinstance(frame, bytes) else frame
        if text == "2":
            return Decoded(Kind.CONTROL, answer="3")
        if text.startswith("40"):
            return Decoded(Kind.READY)
        if text.startswith("42"):
            event, payload = json.loads(text[2:])[:2]
            if event == "message":
                return Decoded(Kind.DELIVERY, payload.get("room", ""), payload.get("data"))
            if event == "subscribed":
                return Decoded(Kind.JOINED, payload.get("room", ""))
            return Decoded(Kind.REPLY, type=str(event))
        if text.startswith("44"):
            return Decoded(Kind.ERROR, data=text[2:], type="connect_error")
        return Decoded(Kind.CONTROL)


ADAPTERS: dict[str, type[RoomBroadcast] | type[SocketIO]] = {
    "node-ws": RoomBroadcast,
    "socketio": SocketIO,
    "relay-floor": RoomBroadcast,  # baselines/relay_floor.py speaks node-ws's wire
}
