"""How a hub feature declares its messages: each client message type with its content schema and its
handler, side by side, plus the frames the feature pushes.

    rooms = Feature("rooms", pushes={"room_message": "a message sent to a room you joined"})

    @rooms.message("join", obj({"room": ID}))
    async def join(ctx: Context, content: Join) -> Reply: ...

`features.MESSAGES` gathers every feature's messages: validation reads the schemas, dispatch the
handlers, and tests check that both agree with the content types and with docs/hub-protocol.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

if TYPE_CHECKING:
    from .context import Context

Reply = dict[str, Any] | None  # the reply's content; None: no reply frame
Handler = Callable[["Context", Any], Awaitable[Reply]]
H = TypeVar("H", bound=Callable[..., Awaitable[Reply]])

# Schema pieces shared by features (JSON Schema, draft-07 keywords only: fastjsonschema compiles them).
ID = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[A-Za-z0-9_.:@-]+$"}
TEXT = {"type": "string", "minLength": 1, "maxLength": 4000}
INT_ID = {"type": "integer"}
EMPTY: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}
# a sender's id for one message, so that a retry is recognised (chat and room messages)
CLIENT_MSG_ID = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9_.:@-]+$"}
SENT_LOOKBACK_MS = 60_000  # how far back in a topic's stream a retry looks for its first attempt's frame


class Empty(TypedDict):
    """The content of a message that takes none."""


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object schema with exactly these fields (unknown fields are rejected)."""
    return {"type": "object", "additionalProperties": False, "required": sorted(required),
            "properties": {**required, **(optional or {})}}


@dataclass(frozen=True)
class Message:
    type: str
    schema: dict[str, Any]
    handler: Handler
    reply: str  # the type of the reply frame: `<type>_result` unless the protocol says otherwise
    feature: str


class Feature:
    def __init__(self, name: str, *, pushes: dict[str, str] | None = None) -> None:
        self.name = name
        self.messages: dict[str, Message] = {}
        self.pushes = dict(pushes or {})  # frame type -> what it is: frames this feature sends unasked

    def message(self, kind: str, schema: dict[str, Any], *, reply: str | None = None) -> Callable[[H], H]:
        """Register the decorated handler for client messages of type `kind` with this content schema."""

        def register(handler: H) -> H:
            if kind in self.messages:
                raise ValueError(f"{self.name}: message type {kind!r} is declared twice")
            self.messages[kind] = Message(kind, schema, handler, reply or f"{kind}_result", self.name)
            return handler

        return register
