"""JSON Schemas of every client-to-server message's `content`, keyed by message type.

One table is the contract: validation, the docs and the client all read it.
"""

from __future__ import annotations

from typing import Any

ID = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[A-Za-z0-9_.:@-]+$"}
TEXT = {"type": "string", "minLength": 1, "maxLength": 4000}
EMPTY: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": sorted(required),
            "properties": {**required, **(optional or {})}}


ATTACHMENT = obj({"id": ID, "name": {"type": "string", "minLength": 1, "maxLength": 255},
                  "size": {"type": "integer", "minimum": 0}, "type": {"type": "string", "maxLength": 127}})

CONTENT_SCHEMAS: dict[str, dict[str, Any]] = {
    # system
    "auth": obj({"token": {"type": "string", "minLength": 1, "maxLength": 4096}}),
    "ping": EMPTY,
    "time_sync": obj({"client_time": {"type": "number"}}),
    "presence": obj({"status": {"enum": ["online", "away"]}}),
    "join": obj({"room": ID}),
    "leave": obj({"room": ID}),
    "room_message": obj({"room": ID, "data": {}}, {"priority": {"enum": ["LOW", "NORMAL", "HIGH", "CRITICAL"]}}),
    # chat
    "channel_create": obj({"kind": {"enum": ["public", "private", "direct"]}},
                          {"name": {"type": "string", "minLength": 1, "maxLength": 100},
                           "members": {"type": "array", "items": ID, "maxItems": 500}}),
    "channel_join": obj({"channel_id": {"type": "integer"}}),
    "channel_leave": obj({"channel_id": {"type": "integer"}}),
    "channel_invite": obj({"channel_id": {"type": "integer"}, "user_id": ID}),
    "channel_list": EMPTY,
    "chat_message": obj({"channel_id": {"type": "integer"}, "text": TEXT},
                        {"attachments": {"type": "array", "items": ATTACHMENT, "maxItems": 10}}),
    "history": obj({"channel_id": {"type": "integer"}},
                   {"before_id": {"type": "integer"}, "limit": {"type": "integer", "minimum": 1, "maximum": 200}}),
    "search": obj({"query": {"type": "string", "minLength": 1, "maxLength": 200}},
                  {"channel_id": {"type": "integer"}, "limit": {"type": "integer", "minimum": 1, "maximum": 100}}),
    "typing": obj({"channel_id": {"type": "integer"}, "typing": {"type": "boolean"}}),
    "read_receipt": obj({"channel_id": {"type": "integer"}, "message_id": {"type": "integer"}}),
    "channel_presence": obj({"channel_id": {"type": "integer"}}),
    # notifications
    "notification_read": obj({"id": ID}),
    "notification_status": obj({"id": ID}),
    "preferences": obj({}, {"channels": {"type": "array", "uniqueItems": True, "minItems": 1,
                                         "items": {"enum": ["websocket", "push", "email", "sms"]}},
                            "locale": {"enum": ["en", "de", "fr"]}}),
    # listening sessions
    "session_create": obj({}, {"track_id": ID, "queue": {"type": "array", "items": ID, "maxItems": 500}}),
    "session_join": obj({"session_id": ID}),
    "session_leave": obj({"session_id": ID}),
    "session_control": obj({"session_id": ID, "action": {"enum": ["play", "pause", "seek", "skip", "volume"]}},
                           {"position_ms": {"type": "number", "minimum": 0},
                            "volume": {"type": "number", "minimum": 0, "maximum": 1}, "track_id": ID}),
    "queue_add": obj({"session_id": ID, "track_id": ID}),
    "queue_remove": obj({"session_id": ID, "item_id": ID}),
    # collaborative playlists
    "playlist_open": obj({"playlist_id": ID}),
    "playlist_close": obj({"playlist_id": ID}),
    "playlist_update": obj({"playlist_id": ID, "update": {"type": "string", "minLength": 1, "maxLength": 65536}}),
    "playlist_history": obj({"playlist_id": ID}, {"limit": {"type": "integer", "minimum": 1, "maximum": 200}}),
    "playlist_undo": obj({"playlist_id": ID}),
}
