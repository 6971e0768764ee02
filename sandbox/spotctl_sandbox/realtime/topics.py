"""Topics: what a published frame is addressed to, built and parsed here and nowhere else.

A topic is a kind and a key, written `<kind>:<key>` on the wire (the `topic` field of published
frames) and inside Redis channel and stream names: `user:42`, `room:lobby`, `chat:7`, `ls:<session>`,
`pl:<playlist>`. Keys follow the protocol's id rule (letters, digits and `_.:@-`, so a key may hold
a colon: only the first one separates). Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

KEY_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")  # the protocol's ID schema


class Kind(StrEnum):
    USER = "user"  # one user's own frames: notifications, invitations, kicks
    ROOM = "room"  # ephemeral public fan-out groups
    CHAT = "chat"  # a chat channel; its key is the channel's integer id
    SESSION = "ls"  # a listening session
    PLAYLIST = "pl"  # a collaborative playlist


@dataclass(frozen=True, slots=True)
class Topic:
    kind: Kind
    key: str

    def __str__(self) -> str:
        return f"{self.kind._value_}:{self.key}"  # `.value`'s own attribute: the property cost 3x (per message)

    @classmethod
    def parse(cls, text: str) -> Topic:
        """`room:lobby` -> Topic(ROOM, "lobby"); ValueError that says what a topic looks like."""
        kind, sep, key = text.partition(":")
        if not sep or kind not in Kind._value2member_map_:
            kinds = ", ".join(f"{k.value}:<key>" for k in Kind)
            raise ValueError(f"{text!r} is not a topic ({kinds})")
        topic = cls(Kind(kind), key)
        topic.check()
        return topic

    def check(self) -> Topic:
        if not KEY_RE.match(self.key):
            raise ValueError(f"{self.key!r} is not a {self.kind.name.lower()} key "
                             "(1-128 letters, digits and _.:@- only)")
        if self.kind is Kind.CHAT and not self.key.isdigit():
            raise ValueError(f"a chat channel is chat:<number>, e.g. chat:12 (got chat:{self.key})")
        return self

    @property
    def chat_id(self) -> int:
        """The channel id of a chat topic (ValueError for other kinds)."""
        if self.kind is not Kind.CHAT:
            raise ValueError(f"{self} is not a chat channel")
        return int(self.key)

    @classmethod
    def user(cls, user_id: str) -> Topic:
        return cls(Kind.USER, str(user_id))

    @classmethod
    def room(cls, name: str) -> Topic:
        return cls(Kind.ROOM, name)

    @classmethod
    def chat(cls, channel_id: int) -> Topic:
        return cls(Kind.CHAT, str(int(channel_id)))

    @classmethod
    def session(cls, session_id: str) -> Topic:
        return cls(Kind.SESSION, session_id)

    @classmethod
    def playlist(cls, playlist_id: str) -> Topic:
        return cls(Kind.PLAYLIST, playlist_id)
