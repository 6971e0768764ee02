"""The hub's features, each declaring its client messages (schema + handler) and the frames it pushes.

`MESSAGES` is the one table of the protocol's client messages: the connection validates frames
against its schemas and dispatches to its handlers. Adding a message type = one decorated handler
in one feature (docs/ARCHITECTURE.md, "A new hub message type").
"""

from __future__ import annotations

from . import chat, listening, notifications, playlists, rooms, system
from .feature import Feature, Message

FEATURES: tuple[Feature, ...] = (system.feature, rooms.feature, notifications.feature, chat.feature,
                                 listening.feature, playlists.feature)


def _gather(features: tuple[Feature, ...]) -> dict[str, Message]:
    table: dict[str, Message] = {}
    for feature in features:
        for kind, message in feature.messages.items():
            if kind in table:
                raise ValueError(f"message type {kind!r} is declared by {table[kind].feature} and {feature.name}")
            table[kind] = message
    return table


MESSAGES: dict[str, Message] = _gather(FEATURES)

__all__ = ["FEATURES", "MESSAGES", "Feature", "Message"]
