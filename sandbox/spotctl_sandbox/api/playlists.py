"""Flow 4, playlists CRUD: repository insert (MongoDB or the PostgreSQL JSONB fallback) -> invalidate
`playlists:user:<id>` -> Kafka `playlist_created`. Listing is cached per user for 5 minutes."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from spotctl_sandbox.api import metrics
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.resources import Resources
from spotctl_sandbox.api.security import Res, User
from spotctl_sandbox.events import Topic
from spotctl_sandbox.playlists import Playlist

router = APIRouter(prefix="/api/playlists", tags=["playlists"])

LIST_TTL_S = 300
PlaylistId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="playlist id")]
SongIds = Annotated[list[Annotated[int, Field(ge=1)]], Field(max_length=1000)]


class NewPlaylist(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    song_ids: SongIds = []


class PlaylistChange(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    song_ids: SongIds | None = None


class AddSong(BaseModel):
    song_id: int = Field(ge=1)


def list_key(user_id: str) -> str:
    return f"playlists:user:{user_id}"


async def check_songs(res: Resources, song_ids: list[int]) -> None:
    if not song_ids:
        return
    async with res.pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM songs WHERE id = ANY(%s)", (song_ids,))
        known = {row[0] for row in await cur.fetchall()}
    missing = sorted(set(song_ids) - known)
    if missing:
        raise ApiError(422, f"body.song_ids: unknown song ids {missing[:20]}")


async def owned(res: Resources, playlist_id: str, user_id: str) -> Playlist:
    playlist = await res.playlists.get(playlist_id)
    if playlist is None:
        raise ApiError(404, f"playlist {playlist_id} not found")
    if playlist.user_id != user_id:
        raise ApiError(403, f"playlist {playlist_id} belongs to another user")
    return playlist


def view(p: Playlist, backend: str) -> dict[str, Any]:
    return {**p.document(), "backend": backend}


@router.post("", status_code=201)
async def create(body: NewPlaylist, user: User, res: Res) -> dict[str, Any]:
    await check_songs(res, body.song_ids)
    playlist = Playlist.new(user.user_id, body.name, body.description, body.song_ids)
    await res.playlists.insert(playlist)
    await res.redis.delete(list_key(user.user_id))
    event = await res.kafka.send(Topic.PLAYLIST_CREATED, {
        "user_id": user.user_id, "playlist_id": playlist.id, "name": playlist.name,
        "song_count": len(playlist.song_ids)}, key=user.user_id)
    metrics.EVENTS.labels(event.topic).inc()
    return view(playlist, res.playlists.backend)


@router.get("")
async def mine(user: User, res: Res) -> dict[str, Any]:
    key = list_key(user.user_id)
    cached = await res.redis.get(key)
    metrics.CACHE.labels("playlists", "hit" if cached else "miss").inc()
    if cached is not None:
        return {"items": json.loads(cached), "cached": True, "backend": res.playlists.backend}
    items = [p.document() for p in await res.playlists.list_for_user(user.user_id)]
    await res.redis.set(key, json.dumps(items), ex=LIST_TTL_S)
    return {"items": items, "cached": False, "backend": res.playlists.backend}


@router.get("/{playlist_id}")
async def one(playlist_id: PlaylistId, user: User, res: Res) -> dict[str, Any]:
    return view(await owned(res, playlist_id, user.user_id), res.playlists.backend)


@router.patch("/{playlist_id}")
async def change(playlist_id: PlaylistId, body: PlaylistChange, user: User, res: Res) -> dict[str, Any]:
    playlist = await owned(res, playlist_id, user.user_id)
    changes = body.model_dump(exclude_none=True)
    if "song_ids" in changes:
        await check_songs(res, changes["song_ids"])
    updated = playlist.changed(**changes)
    if not await res.playlists.replace(updated):
        raise ApiError(404, f"playlist {playlist_id} not found")
    await res.redis.delete(list_key(user.user_id))
    return view(updated, res.playlists.backend)


@router.post("/{playlist_id}/songs")
async def add_song(playlist_id: PlaylistId, body: AddSong, user: User, res: Res) -> dict[str, Any]:
    playlist = await owned(res, playlist_id, user.user_id)
    await check_songs(res, [body.song_id])
    updated = playlist.changed(song_ids=[*playlist.song_ids, body.song_id])
    if not await res.playlists.replace(updated):
        raise ApiError(404, f"playlist {playlist_id} not found")
    await res.redis.delete(list_key(user.user_id))
    return view(updated, res.playlists.backend)


@router.delete("/{playlist_id}", status_code=204)
async def delete(playlist_id: PlaylistId, user: User, res: Res) -> None:
    await owned(res, playlist_id, user.user_id)
    await res.playlists.delete(playlist_id)
    await res.redis.delete(list_key(user.user_id))
