"""Notification routing: which channels a notification takes, from priority and user preferences."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .priority import Priority


class Channel(StrEnum):
    WEBSOCKET = "websocket"
    PUSH = "push"
    EMAIL = "email"
    SMS = "sms"


LOCALES = ("en", "de", "fr")


@dataclass(frozen=True)
class Preferences:
    channels: frozenset[Channel] = frozenset({Channel.WEBSOCKET})
    locale: str = "en"

    @classmethod
    def from_redis(cls, raw: dict[str, str]) -> Preferences:
        """Stored as a hash {channels: "websocket,email", locale: "de"}; unknown values fall back."""
        names = [c for c in raw.get("channels", "").split(",") if c in Channel._value2member_map_]
        locale = raw.get("locale", "en")
        return cls(frozenset(Channel(c) for c in names) or cls.channels,
                   locale if locale in LOCALES else "en")


def route(priority: Priority, prefs: Preferences) -> frozenset[Channel]:
    """The user's channels; CRITICAL also always reaches the websocket and push (never lost silently)."""
    channels = set(prefs.channels)
    if priority is Priority.CRITICAL:
        channels |= {Channel.WEBSOCKET, Channel.PUSH}
    return frozenset(channels)
