"""Presence and the per-user connection cap, decided from plain data.

Each live connection is a member `"<connected_ms>:<conn_id>"` of the user's sorted set, scored by its
last refresh; members not refreshed for a few heartbeats belong to dead workers and are ignored.
"""

from __future__ import annotations

from enum import StrEnum


class Presence(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


def status(live_connections: int, away: bool) -> Presence:
    if live_connections <= 0:
        return Presence.OFFLINE
    return Presence.AWAY if away else Presence.ONLINE


def member(connected_ms: float, conn_id: str) -> str:
    return f"{connected_ms:018.3f}:{conn_id}"  # fixed width, µs: sorts by connect time


def conn_id_of(member_name: str) -> str:
    return member_name.split(":", 1)[1]


def over_cap(members: list[str], cap: int) -> list[str]:
    """Members to close so that at most `cap` remain: the oldest connections go first."""
    if cap <= 0 or len(members) <= cap:
        return []
    return sorted(members)[: len(members) - cap]
