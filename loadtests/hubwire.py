"""The hub's wire protocol for the load users (see docs/hub-protocol.md): JSON envelopes
`{"type", "content", "id"?}`; auth by a first `auth` frame, answered by `welcome`.

Room messages come back to the sender too (its delivery receipt); replies carry `reply_to`, which
the chat and notification users use to time request/response pairs.
"""

from __future__ import annotations

import json
from typing import Any

from spotctl_sandbox.realtime.protocol import request as envelope

from .wire import Decoded, Kind


class HubAdapter:
    name = "hub"
    needs_ready = True
    marker = b'"type":"room_message"'
    app_ping = None

    def url(self, base: str) -> str:
        return base

    def opening(self, token: str) -> list[str]:
        return [envelope("auth", {"token": token})]

    def subscribe(self, room: str) -> str:
        return envelope("join", {"room": room})

    def publish(self, room: str, data: dict[str, Any]) -> str:
        return envelope("room_message", {"room": room, "data": data})

    def heartbeat(self) -> str | None:
        return envelope("ping", {})

    def decode(self, frame: str | bytes) -> Decoded:
        msg = json.loads(frame)
        kind = str(msg.get("type", ""))
        content = msg.get("content") or {}
        reply_to = msg.get("reply_to")
        if kind == "room_message":
            return Decoded(Kind.DELIVERY, content.get("room", ""), content.get("data"), type=kind)
        if kind == "chat_message":
            return Decoded(Kind.DELIVERY, str(content.get("channel_id", "")), content, type=kind)
        if kind == "notification":
            return Decoded(Kind.NOTIFICATION, data=[content], type=kind)
        if kind == "notification_batch":  # LOW priority, coalesced by the hub
            return Decoded(Kind.NOTIFICATION, data=list(content.get("notifications", [])), type=kind)
        if kind == "welcome":
            return Decoded(Kind.READY, data=content, type=kind)
        if kind == "join_result":
            return Decoded(Kind.JOINED, content.get("room", ""), reply_to=reply_to, type=kind)
        if kind == "error":
            return Decoded(Kind.ERROR, data=content, reply_to=reply_to, type=kind)
        return Decoded(Kind.REPLY, data=content, reply_to=reply_to, type=kind)
