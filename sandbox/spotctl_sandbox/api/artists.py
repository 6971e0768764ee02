"""Artist profiles and who owns them: an owner (or an admin) releases songs for the artist.

Users with the `artist` role create their own profiles; admins create them for anyone, and assign
existing (e.g. seeded) artists to a user.
"""

from __future__ import annotations

from typing import Annotated, Any

import psycopg.errors
from fastapi import Depends, Path, Request
from pydantic import Field

from spotctl_sandbox.api.atomic import after_commit, atomic
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.routing import Body, text
from spotctl_sandbox.api.routing import router as make_router
from spotctl_sandbox.api.security import Admin, Res, audit_event, deny, requires
from spotctl_sandbox.common.audit import AuditEvent
from spotctl_sandbox.common.tokens import Claims, Role
from spotctl_sandbox.db.unit import connection

router = make_router("/api", tags=["artists"], errors=(401, 403, 404))

ArtistId = Annotated[int, Path(ge=1, le=2**62, description="artist id")]
OwnerId = Annotated[int, Field(ge=1, le=2**63 - 1)]
ArtistOrAdmin = Annotated[Claims, Depends(requires(Role.ARTIST, Role.ADMIN))]


class NewArtist(Body):
    name: str = text(1, 200)
    genre: str = text(1, 60, default="unknown")
    owner_user_id: OwnerId | None = Field(default=None, description="admins only; default: you")


class Owner(Body):
    user_id: OwnerId | None = Field(description="the new owner; null: nobody (only admins release)")


def artist_view(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": row[0], "name": row[1], "genre": row[2], "owner_user_id": None if row[3] is None else str(row[3])}


@router.post("/artists", status_code=201, summary="Create an artist profile (artist role: your own; admin: anyone's)")
@atomic
async def create_artist(body: NewArtist, user: ArtistOrAdmin, res: Res,
                        request: Request) -> dict[str, Any]:
    owner = int(user.user_id) if body.owner_user_id is None else body.owner_user_id
    if owner != int(user.user_id) and not user.has(Role.ADMIN):
        raise await deny(request, res, user, 403, "only admins create artists for other users")
    try:
        async with connection(res.pool) as conn:
            cur = await conn.execute("INSERT INTO artists (name, genre, owner_user_id) VALUES (%s, %s, %s) "
                                     "RETURNING id, name, genre, owner_user_id", (body.name, body.genre, owner))
            row = await cur.fetchone()
    except psycopg.errors.ForeignKeyViolation as exc:
        raise ApiError(404, f"user {owner} not found") from exc
    assert row is not None
    if owner != int(user.user_id):
        after_commit(lambda: audit_event(request, res, AuditEvent.ADMIN, user.user_id,
                                         f"created artist {row[0]} for user {owner}", target=f"artist:{row[0]}"))
    return artist_view(row)


@router.put("/artists/{artist_id}/owner", summary="Assign an artist to a user (admin)")
@atomic
async def set_owner(artist_id: ArtistId, body: Owner, admin: Admin, res: Res, request: Request) -> dict[str, Any]:
    try:
        async with connection(res.pool) as conn:
            cur = await conn.execute("UPDATE artists SET owner_user_id = %s WHERE id = %s "
                                     "RETURNING id, name, genre, owner_user_id", (body.user_id, artist_id))
            row = await cur.fetchone()
    except psycopg.errors.ForeignKeyViolation as exc:
        raise ApiError(404, f"user {body.user_id} not found") from exc
    if row is None:
        raise ApiError(404, f"artist {artist_id} not found")
    after_commit(lambda: audit_event(request, res, AuditEvent.ADMIN, admin.user_id,
                                     f"artist owner set to {body.user_id}", target=f"artist:{artist_id}"))
    return artist_view(row)
