"""Flow 3 (API side), a release: insert the song in PostgreSQL and fan out a `release` message on
the `notifications` exchange with publisher confirms. The publish happens inside the transaction:
if RabbitMQ does not confirm, the song is not committed and the client gets a 503 naming it."""

from __future__ import annotations

import zlib
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.security import Res, User
from spotctl_sandbox.api.songcache import SONG_COLUMNS, row_to_song

router = APIRouter(prefix="/api", tags=["releases"])


class Release(BaseModel):
    artist_id: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=200)
    album_id: int | None = Field(default=None, ge=1)


@router.post("/releases", status_code=201)
async def release(body: Release, user: User, res: Res) -> dict[str, Any]:
    audio = res.media[zlib.crc32(body.title.encode()) % len(res.media)]
    async with res.pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT a.name, al.title FROM artists a LEFT JOIN albums al ON al.id = %s AND al.artist_id = a.id "
            "WHERE a.id = %s", (body.album_id, body.artist_id))
        found = await cur.fetchone()
        if found is None:
            raise ApiError(404, f"artist {body.artist_id} not found")
        artist, album = found
        if body.album_id is not None and album is None:
            raise ApiError(404, f"album {body.album_id} of artist {body.artist_id} not found")
        cur = await conn.execute(
            "INSERT INTO songs (title, artist_id, album_id, artist, album, duration_s, audio_path, mime_type) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, 'audio/wav') RETURNING {SONG_COLUMNS}",
            (body.title, body.artist_id, body.album_id, artist, album, audio.duration_s, audio.name))
        row = await cur.fetchone()
        assert row is not None
        song = row_to_song(row)
        message = await res.rabbit.publish_release(song["id"], body.artist_id, body.title, artist)
    song.pop("audio_path")
    return {"song": song, "notification": {"exchange": "notifications", "confirmed": True, "body": message},
            "released_by": user.user_id}
