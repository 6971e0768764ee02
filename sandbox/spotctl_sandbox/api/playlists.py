"""Flow 4, playlists: create, edit, share, delete — each through `PlaylistService` (the same rules
the hub's collaborative editing uses; spotctl_sandbox.playlists.access says who may do what).

Create = repository insert (MongoDB or the PostgreSQL JSONB fallback) + Kafka `playlist_created`
through the outbox, in one transaction -> invalidate `playlists:user:<id>`. Every write route is
@atomic: with the PostgreSQL back-end its change, its event and (with an Idempotency-Key) its answer
commit together. A library listing is cached per user for 5 minutes; every change invalidates the
listing of each member it touches, once it is stored.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Path, Query, Request
from pydantic import Field

from spotctl_sandbox.api import metrics
from spotctl_sandbox.api.atomic import after_commit, atomic
from spotctl_sandbox.api.docs import OPTIONAL_AUTH
from spotctl_sandbox.api.resources import Resources
from spotctl_sandbox.api.routing import Body, text
from spotctl_sandbox.api.routing import router as make_router
from spotctl_sandbox.api.security import Account, MaybeUser, Res, User, audit_event
from spotctl_sandbox.common.audit import AuditEvent
from spotctl_sandbox.common.tokens import Claims
from spotctl_sandbox.events import Topic, outbox
from spotctl_sandbox.playlists import (
    Action,
    Actor,
    Decision,
    Playlist,
    PlaylistService,
    Relation,
    Visibility,
    relation,
)
from spotctl_sandbox.playlists.model import MAX_SONGS

router = make_router("/api/playlists", tags=["playlists"], errors=(401, 403, 404, 409))

LIST_TTL_S = 300
PlaylistId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="playlist id")]
UserId = Annotated[str, Path(pattern=r"^[1-9][0-9]{0,17}$", description="user id")]
SongId = Annotated[int, Field(ge=1, le=2**63 - 1)]
SongIds = Annotated[list[SongId], Field(max_length=MAX_SONGS)]
LinkToken = Annotated[str, Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


class NewPlaylist(Body):
    name: str = text(1, 200)
    description: str = text(0, 2000, default="")
    song_ids: SongIds = []
    visibility: Visibility = Visibility.PRIVATE


class PlaylistChange(Body):
    name: str | None = text(1, 200, default=None)
    description: str | None = text(0, 2000, default=None)
    song_ids: SongIds | None = None
    visibility: Visibility | None = Field(default=None, description="owner only")


class AddSong(Body):
    song_id: SongId


class NewInvite(Body):
    user_id: str = Field(pattern=r"^[1-9][0-9]{0,17}$", description="the user to invite")


class Join(Body):
    link: LinkToken


def list_key(user_id: str) -> str:
    return f"playlists:user:{user_id}"


def service(request: Request, res: Resources) -> PlaylistService:
    """The playlist rules, auditing each denial and each thing only an admin could do."""

    async def on_decision(actor: Actor, action: Action, pid: str, decision: Decision) -> None:
        event = AuditEvent.ADMIN if decision.allowed else AuditEvent.DENIED
        reason = decision.reason or f"admin {action.value} on a playlist of another user"
        await audit_event(request, res, event, actor.user_id or "", reason, target=f"playlist:{pid}")

    assert res.directory is not None
    return PlaylistService(res.playlists, res.directory, on_decision=on_decision)


def view(p: Playlist, user_id: str | None, backend: str) -> dict[str, Any]:
    """What a caller sees: members' ids and version for all; invites and the link's expiry for the owner."""
    rel = relation(p, user_id)
    doc: dict[str, Any] = {
        "id": p.id, "user_id": p.user_id, "name": p.name, "description": p.description,
        "song_ids": list(p.song_ids), "visibility": p.visibility.value, "collaborators": list(p.collaborators),
        "version": p.version, "created_at": p.created_at.isoformat(), "updated_at": p.updated_at.isoformat(),
        "your_role": "viewer" if rel is Relation.NONE else rel.value, "backend": backend}
    if rel is Relation.OWNER:
        doc["invites"] = [i.document() for i in p.invites]
        doc["link"] = None if p.link is None else {"created_at": p.link.created_at.isoformat(),
                                                   "expires_at": p.link.expires_at.isoformat()}
    return doc


def forget_lists(res: Resources, *user_ids: str) -> None:
    """Drop these users' cached libraries once the change is stored (before, a concurrent read could
    cache the old state again for 5 minutes)."""

    async def forget() -> None:
        if user_ids:
            await res.redis.delete(*(list_key(u) for u in set(user_ids)))

    after_commit(forget)


def _changed(res: Resources, p: Playlist, user: Claims, *also: str) -> dict[str, Any]:
    forget_lists(res, *p.members(), *also)
    return view(p, user.user_id, res.playlists.backend)


@router.post("", status_code=201)
@atomic
async def create(body: NewPlaylist, user: User, res: Res, request: Request) -> dict[str, Any]:
    playlist = await service(request, res).create(Actor.of(user), body.name, body.description, body.song_ids,
                                                  body.visibility)
    forget_lists(res, user.user_id)
    outbox.emit(outbox.kafka_event(Topic.PLAYLIST_CREATED, {
        "user_id": user.user_id, "playlist_id": playlist.id, "name": playlist.name,
        "song_count": len(playlist.song_ids)}, key=user.user_id))
    return view(playlist, user.user_id, res.playlists.backend)


@router.get("", summary="Your library: playlists you own, collaborate on or are invited to")
async def mine(user: Account, res: Res, request: Request) -> dict[str, Any]:
    key = list_key(user.user_id)
    cached = await res.redis.get(key)
    metrics.CACHE.labels("playlists", "hit" if cached else "miss").inc()
    if cached is not None:
        return {"items": json.loads(cached), "cached": True, "backend": res.playlists.backend}
    items = [view(p, user.user_id, res.playlists.backend)
             for p in await service(request, res).library(Actor.of(user))]
    await res.redis.set(key, json.dumps(items), ex=LIST_TTL_S)
    return {"items": items, "cached": False, "backend": res.playlists.backend}


@router.get("/{playlist_id}", openapi_extra=OPTIONAL_AUTH,
            summary="A playlist: public ones for anyone, private ones for members or with its share link")
async def one(playlist_id: PlaylistId, user: MaybeUser, res: Res, request: Request,
              link: Annotated[LinkToken | None, Query(description="a share-link token")] = None) -> dict[str, Any]:
    playlist = await service(request, res).get(Actor.of(user), playlist_id, link)
    return view(playlist, user.user_id if user else None, res.playlists.backend)


@router.patch("/{playlist_id}", summary="Edit (owner, collaborators); visibility: owner only")
@atomic
async def change(playlist_id: PlaylistId, body: PlaylistChange, user: User, res: Res,
                 request: Request) -> dict[str, Any]:
    svc, actor = service(request, res), Actor.of(user)
    if body.visibility is not None:
        playlist = await svc.set_visibility(actor, playlist_id, body.visibility)
    if body.name is not None or body.description is not None or body.song_ids is not None or \
            body.visibility is None:
        playlist = await svc.edit(actor, playlist_id, name=body.name, description=body.description,
                                  song_ids=body.song_ids)
    return _changed(res, playlist, user)


@router.post("/{playlist_id}/songs", summary="Append a song (owner, collaborators)")
@atomic
async def add_song(playlist_id: PlaylistId, body: AddSong, user: User, res: Res, request: Request) -> dict[str, Any]:
    playlist = await service(request, res).add_songs(Actor.of(user), playlist_id, [body.song_id])
    return _changed(res, playlist, user)


@router.delete("/{playlist_id}", status_code=204, summary="Delete (owner, or an admin)")
@atomic
async def delete(playlist_id: PlaylistId, user: User, res: Res, request: Request) -> None:
    playlist = await service(request, res).delete(Actor.of(user), playlist_id)
    forget_lists(res, *playlist.members())


@router.post("/{playlist_id}/invites", summary="Invite a user to collaborate (owner)")
@atomic
async def invite(playlist_id: PlaylistId, body: NewInvite, user: User, res: Res, request: Request) -> dict[str, Any]:
    playlist = await service(request, res).invite(Actor.of(user), playlist_id, body.user_id)
    return _changed(res, playlist, user)


@router.post("/{playlist_id}/accept", summary="Accept your invite: you become a collaborator")
@atomic
async def accept(playlist_id: PlaylistId, user: User, res: Res, request: Request) -> dict[str, Any]:
    playlist = await service(request, res).accept(Actor.of(user), playlist_id)
    return _changed(res, playlist, user)


@router.post("/{playlist_id}/leave", summary="Leave a playlist you collaborate on, or decline an invite")
@atomic
async def leave(playlist_id: PlaylistId, user: User, res: Res, request: Request) -> dict[str, Any]:
    playlist = await service(request, res).leave(Actor.of(user), playlist_id)
    forget_lists(res, *playlist.members(), user.user_id)
    return {"playlist_id": playlist_id, "left": True}


@router.delete("/{playlist_id}/members/{user_id}", summary="Remove a collaborator or withdraw an invite (owner)")
@atomic
async def remove_member(playlist_id: PlaylistId, user_id: UserId, user: User, res: Res,
                        request: Request) -> dict[str, Any]:
    playlist = await service(request, res).remove_member(Actor.of(user), playlist_id, user_id)
    return _changed(res, playlist, user, user_id)


@router.post("/{playlist_id}/link", status_code=201,
             summary="A new share link (owner): its holders may read the playlist and join it")
@atomic
async def create_link(playlist_id: PlaylistId, user: User, res: Res, request: Request) -> dict[str, Any]:
    playlist, token = await service(request, res).create_link(Actor.of(user), playlist_id)
    assert playlist.link is not None
    forget_lists(res, user.user_id)  # the owner's library shows the link's expiry
    return {"playlist_id": playlist.id, "link": token, "path": f"/api/playlists/{playlist.id}?link={token}",
            "expires_at": playlist.link.expires_at.isoformat()}


@router.delete("/{playlist_id}/link", status_code=204, summary="Revoke the share link (owner)")
@atomic
async def revoke_link(playlist_id: PlaylistId, user: User, res: Res, request: Request) -> None:
    await service(request, res).revoke_link(Actor.of(user), playlist_id)
    forget_lists(res, user.user_id)


@router.post("/{playlist_id}/join", summary="Join as a collaborator with a share link")
@atomic
async def join(playlist_id: PlaylistId, body: Join, user: User, res: Res, request: Request) -> dict[str, Any]:
    playlist = await service(request, res).join(Actor.of(user), playlist_id, body.link)
    return _changed(res, playlist, user)
