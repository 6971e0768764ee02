"""The playlist repository interface both back-ends implement, and the Playlist record.

MongoDB is the seed's store for playlists; where the runtime has none, PostgreSQL JSONB stands in
behind the very same interface, so the API code does not know which one it talks to.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol


class Backend(StrEnum):
    MONGODB = "mongodb"
    POSTGRES_JSONB = "postgres-jsonb"


@dataclass(frozen=True)
class Playlist:
    id: str
    user_id: str
    name: str
    description: str = ""
    song_ids: tuple[int, ...] = ()
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def new(cls, user_id: str, name: str, description: str, song_ids: list[int]) -> Playlist:
        return cls(id=uuid.uuid4().hex, user_id=str(user_id), name=name, description=description,
                   song_ids=tuple(song_ids))

    def changed(self, **changes: Any) -> Playlist:
        if "song_ids" in changes:
            changes["song_ids"] = tuple(changes["song_ids"])
        return replace(self, **changes, updated_at=datetime.now(UTC))

    def document(self) -> dict[str, Any]:
        """The stored shape (same fields in MongoDB and in the JSONB column)."""
        return {"id": self.id, "user_id": self.user_id, "name": self.name, "description": self.description,
                "song_ids": list(self.song_ids), "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Playlist:
        return cls(id=str(doc["id"]), user_id=str(doc["user_id"]), name=doc["name"],
                   description=doc.get("description", ""), song_ids=tuple(int(s) for s in doc["song_ids"]),
                   created_at=_dt(doc["created_at"]), updated_at=_dt(doc["updated_at"]))


def _dt(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


class PlaylistRepository(Protocol):
    backend: Backend

    async def insert(self, playlist: Playlist) -> None: ...

    async def get(self, playlist_id: str) -> Playlist | None: ...

    async def list_for_user(self, user_id: str, limit: int = 100) -> list[Playlist]: ...

    async def replace(self, playlist: Playlist) -> bool: ...

    async def delete(self, playlist_id: str) -> bool: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
