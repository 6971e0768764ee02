"""Playlists as MongoDB documents (collection `playlists`, `_id` = playlist id), via pymongo's async API."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING, AsyncMongoClient

from spotctl_sandbox.playlists.model import Playlist
from spotctl_sandbox.playlists.repository import Backend


class MongoPlaylists:
    backend = Backend.MONGODB

    def __init__(self, url: str, *, timeout_ms: int = 2000) -> None:
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(  # every wait bounded (issue 15)
            url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms, socketTimeoutMS=timeout_ms)
        db = self.client.get_default_database(default="spotify")
        self.collection = db["playlists"]

    async def setup(self) -> None:
        await self.collection.create_index([("user_id", 1), ("created_at", DESCENDING)])
        await self.collection.create_index("collaborators")
        await self.collection.create_index("invites.user_id")

    async def insert(self, playlist: Playlist) -> None:
        await self.collection.insert_one({"_id": playlist.id, **playlist.document()})

    async def get(self, playlist_id: str) -> Playlist | None:
        doc = await self.collection.find_one({"_id": playlist_id})
        return Playlist.from_document(doc) if doc else None

    async def list_for_user(self, user_id: str, limit: int = 100) -> list[Playlist]:
        uid = str(user_id)
        query = {"$or": [{"user_id": uid}, {"collaborators": uid}, {"invites.user_id": uid}]}
        cursor = self.collection.find(query).sort("created_at", DESCENDING).limit(limit)
        return [Playlist.from_document(doc) async for doc in cursor]

    async def replace(self, playlist: Playlist, expected_version: int) -> bool:
        # documents from before versioning have no `version`: {"version": None} matches them as v0
        version: Any = {"$in": [0, None]} if expected_version == 0 else expected_version
        result = await self.collection.replace_one({"_id": playlist.id, "version": version},
                                                   {"_id": playlist.id, **playlist.document()})
        return result.matched_count == 1

    async def delete(self, playlist_id: str) -> bool:
        result = await self.collection.delete_one({"_id": playlist_id})
        return result.deleted_count == 1

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def close(self) -> None:
        await self.client.close()
