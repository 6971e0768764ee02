"""Flow 3 (API side), a release: insert the song in PostgreSQL and, in the same transaction, its
`release` message for the `notifications` fanout in the outbox; the relay publishes it (persistent,
confirmed, mandatory) at once, or when RabbitMQ is back. A release is never stored without its
notification, nor notified without being stored, whatever is down; the message id is the outbox's.

Only the artist's owner (`artists.owner_user_id`) or an admin may release: followers are notified,
so a release in someone else's name is refused (403, audited); an admin's is audited too."""

from __future__ import annotations

import time
import zlib
from typing import Any

from fastapi import Request
from pydantic import Field

from spotctl_sandbox.api.atomic import after_commit, atomic
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.routing import Body, text
from spotctl_sandbox.api.routing import router as make_router
from spotctl_sandbox.api.security import Res, User, audit_event, deny
from spotctl_sandbox.api.songcache import SONG_COLUMNS, row_to_song
from spotctl_sandbox.common.audit import AuditEvent
from spotctl_sandbox.common.tokens import Role
from spotctl_sandbox.db.unit import connection
from spotctl_sandbox.events import NOTIFICATIONS_EXCHANGE, outbox

router = make_router("/api", tags=["releases"], errors=(401, 403, 404))


class Release(Body):
    artist_id: int = Field(ge=1, le=2**62)
    title: str = text(1, 200)
    album_id: int | None = Field(default=None, ge=1, le=2**62)


@router.post("/releases", status_code=201, summary="Release a song (the artist's owner, or an admin)")
@atomic
async def release(body: Release, user: User, res: Res, request: Request) -> dict[str, Any]:
    audio = res.media[zlib.crc32(body.title.encode()) % len(res.media)]
    async with connection(res.pool) as conn:
        cur = await conn.execute(
            "SELECT a.name, al.title, a.owner_user_id FROM artists a "
            "LEFT JOIN albums al ON al.id = %s AND al.artist_id = a.id WHERE a.id = %s",
            (body.album_id, body.artist_id))
        found = await cur.fetchone()
        if found is None:
            raise ApiError(404, f"artist {body.artist_id} not found")
        artist, album, owner = found
        owns = owner is not None and str(owner) == user.user_id
        if not owns and not user.has(Role.ADMIN):
            raise await deny(request, res, user, 403, f"only the owner of artist {body.artist_id} (or an admin) "
                             "may release for it", target=f"artist:{body.artist_id}")
        if body.album_id is not None and album is None:
            raise ApiError(404, f"album {body.album_id} of artist {body.artist_id} not found")
        cur = await conn.execute(
            "INSERT INTO songs (title, artist_id, album_id, artist, album, duration_s, audio_path, mime_type) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, 'audio/wav') RETURNING {SONG_COLUMNS}",
            (body.title, body.artist_id, body.album_id, artist, album, audio.duration_s, audio.name))
        row = await cur.fetchone()
        assert row is not None
        song = row_to_song(row)
        message = outbox.rabbit_message(NOTIFICATIONS_EXCHANGE, {
            "type": "release", "song_id": song["id"], "artist_id": body.artist_id, "title": body.title,
            "artist": artist, "ts": time.time()})
        outbox.emit(message)
    if not owns:
        after_commit(lambda: audit_event(request, res, AuditEvent.ADMIN, user.user_id,
                                         f"released song {song['id']} for artist {body.artist_id}",
                                         target=f"artist:{body.artist_id}"))
    song.pop("audio_path")
    return {"song": song, "notification": {"exchange": NOTIFICATIONS_EXCHANGE, "message_id": message.id,
                                           "body": message.payload},
            "released_by": user.user_id}
