"""Songs: metadata (cache-aside), flow 1 "play", and the trending leaderboard.

Play = JWT check -> cached metadata -> signed stream URL -> Kafka `song_played` and the BullMQ
`update_recently_played` job, both through the outbox (stored in one transaction, published by the
relay at once, or when the broker is back) -> `trending:songs` +1 once stored. The response carries
the event id and the job id, so a client (or test) can follow the play into each store; with an
Idempotency-Key a retried play is the same play, not a second one.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, cast

from fastapi import Path, Query, Request

from spotctl_sandbox import contract
from spotctl_sandbox.api import signing
from spotctl_sandbox.api.atomic import after_commit, atomic
from spotctl_sandbox.api.docs import responses
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.resources import JOB_OPTIONS
from spotctl_sandbox.api.routing import router as make_router
from spotctl_sandbox.api.security import Res, User
from spotctl_sandbox.api.songcache import get_song, public
from spotctl_sandbox.events import Topic, outbox

router = make_router("/api", tags=["songs"])

TRENDING_KEY = contract.TRENDING_KEY
SongId = Annotated[int, Path(ge=1, le=2**62, description="song id")]


async def require_song(res: Res, song_id: int) -> tuple[dict[str, Any], bool]:
    song, cached = await get_song(res, song_id)
    if song is None:
        raise ApiError(404, f"song {song_id} not found")
    return song, cached


@router.get("/songs/{song_id}", responses=responses(404))
async def song_metadata(song_id: SongId, res: Res) -> dict[str, Any]:
    song, cached = await require_song(res, song_id)
    return {**public(song), "cached": cached}


@router.post("/songs/{song_id}/play", responses=responses(401, 403, 404))
@router.get("/songs/{song_id}/stream", summary="Flow 1 as the seed spells it (same as POST .../play)",
            responses=responses(401, 403, 404))
@atomic
async def play(song_id: SongId, user: User, res: Res, request: Request) -> dict[str, Any]:
    song, cached = await require_song(res, song_id)
    expires = int(time.time()) + res.config.stream_link_ttl_s
    path = signing.sign(res.config.settings.jwt_secret, song_id, expires)
    now = time.time()
    event = outbox.kafka_event(Topic.SONG_PLAYED, {"user_id": user.user_id, "song_id": song_id, "ts": now},
                               key=user.user_id)
    queue, name = contract.Q_RECENTLY_PLAYED, contract.JOB_UPDATE_RECENTLY_PLAYED
    job = outbox.job(queue, name, {"user_id": user.user_id, "song_id": song_id, "ts": now}, JOB_OPTIONS)
    outbox.emit(event, job)
    after_commit(lambda: res.redis.zincrby(TRENDING_KEY, 1, str(song_id)))
    return {
        "song": {**public(song), "cached": cached},
        "stream_path": path,
        "stream_url": str(request.base_url).rstrip("/") + path,
        "expires_at": expires,
        "event": {"topic": event.target, "event_id": event.id},
        "job": {"queue": queue, "name": name, "id": job.id},
    }


@router.get("/trending")
async def trending(res: Res, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
    ranked = cast(list[tuple[str, float]], await res.redis.zrevrange(TRENDING_KEY, 0, limit - 1, withscores=True))
    ids = [int(member) for member, _ in ranked]
    titles: dict[int, tuple[str, str]] = {}
    if ids:
        async with res.pool.connection() as conn:
            cur = await conn.execute("SELECT id, title, artist FROM songs WHERE id = ANY(%s)", (ids,))
            titles = {row[0]: (row[1], row[2]) for row in await cur.fetchall()}
    items = [{"song_id": int(m), "plays": int(score), "title": titles.get(int(m), ("?", "?"))[0],
              "artist": titles.get(int(m), ("?", "?"))[1]} for m, score in ranked]
    return {"items": items}
