"""The playlist repository interface both back-ends implement.

MongoDB is the seed's store for playlists; where the runtime has none, PostgreSQL JSONB stands in
behind the very same interface, so neither the API nor the hub knows which one it talks to.
Storage only: who may do what is decided in access.py, and service.py puts the two together.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from spotctl_sandbox.playlists.model import Playlist


class Backend(StrEnum):
    MONGODB = "mongodb"
    POSTGRES_JSONB = "postgres-jsonb"


class PlaylistRepository(Protocol):
    backend: Backend

    async def insert(self, playlist: Playlist) -> None: ...

    async def get(self, playlist_id: str) -> Playlist | None: ...

    async def list_for_user(self, user_id: str, limit: int = 100) -> list[Playlist]:
        """Playlists the user owns, collaborates on or is invited to, newest first."""
        ...

    async def replace(self, playlist: Playlist, expected_version: int) -> bool:
        """Store `playlist` if the stored one still has `expected_version`; False otherwise (gone, or
        changed by someone else meanwhile: read it again and retry)."""
        ...

    async def delete(self, playlist_id: str) -> bool: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
