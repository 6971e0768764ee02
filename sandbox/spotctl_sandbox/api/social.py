"""Follow artists (PostgreSQL `follows`, read by the release notifier) and recently played
(Redis `recent:<user>`, kept by the workers' `update_recently_played` job; PostgreSQL
`listening_history` when the list is empty, e.g. after a Redis flush)."""

from __future__ import annotations

import json
from typing import Annotated, Any, cast

import psycopg.errors
from fastapi import Path, Query, Request

from spotctl_sandbox.api.atomic import atomic
from spotctl_sandbox.api.docs import responses
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.routing import router as make_router
from spotctl_sandbox.api.security import Account, Res, User
from spotctl_sandbox.db.unit import connection

router = make_router("/api", tags=["social"], errors=(401, 403))

ArtistId = Annotated[int, Path(ge=1, le=2**62, description="artist id")]


def recent_key(user_id: str) -> str:
    return f"recent:{user_id}"


@router.post("/artists/{artist_id}/follow", responses=responses(404))
@atomic
async def follow(artist_id: ArtistId, user: User, res: Res, request: Request) -> dict[str, Any]:
    try:
        async with connection(res.pool) as conn:
            await conn.execute("INSERT INTO follows (user_id, artist_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                               (int(user.user_id), artist_id))
    except psycopg.errors.ForeignKeyViolation as exc:
        what = "artist" if "artist" in (exc.diag.constraint_name or "") else "user"
        ident = artist_id if what == "artist" else user.user_id
        raise ApiError(404, f"{what} {ident} not found") from exc
    return {"artist_id": artist_id, "following": True}


@router.delete("/artists/{artist_id}/follow")
@atomic
async def unfollow(artist_id: ArtistId, user: User, res: Res, request: Request) -> dict[str, Any]:
    async with connection(res.pool) as conn:
        await conn.execute("DELETE FROM follows WHERE user_id = %s AND artist_id = %s",
                           (int(user.user_id), artist_id))
    return {"artist_id": artist_id, "following": False}


@router.get("/me/following")
async def following(user: Account, res: Res) -> dict[str, Any]:
    async with res.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT a.id, a.name, a.genre FROM follows f JOIN artists a ON a.id = f.artist_id "
            "WHERE f.user_id = %s ORDER BY f.created_at DESC", (int(user.user_id),))
        rows = await cur.fetchall()
    return {"items": [{"artist_id": r[0], "name": r[1], "genre": r[2]} for r in rows]}


def _parse_recent(item: str) -> dict[str, Any]:
    """Items are JSON objects with a song_id (or a bare song id): accept both."""
    try:
        value = json.loads(item)
    except ValueError:
        return {"song_id": item}
    return value if isinstance(value, dict) else {"song_id": value}


@router.get("/me/recently-played")
async def recently_played(user: Account, res: Res,
                          limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    items = cast(list[str], await res.redis.lrange(recent_key(user.user_id), 0, limit - 1))
    if items:
        return {"source": "redis", "items": [_parse_recent(i) for i in items]}
    async with res.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT song_id, played_at FROM listening_history WHERE user_id = %s "
            "ORDER BY played_at DESC LIMIT %s", (int(user.user_id), limit))
        rows = await cur.fetchall()
    return {"source": "postgres", "items": [{"song_id": r[0], "played_at": r[1].isoformat()} for r in rows]}
