"""Playlist operations with their authorization: what the API routes and the hub's collaborative
editing both call, so one playlist has one set of rules whichever way it is changed.

Each operation reads the playlist, asks `access.authorize`, applies a pure change and stores it
only if nobody changed it meanwhile (the document's `version`); on a lost race it reads again and
retries after a short random pause (so racing writers spread out), and after `attempts` lost races
gives up with a 409. Failures are `PlaylistError`s
carrying the HTTP status the API answers (the hub maps them to its error codes).

Usage (`repo` from `open_repository`, `directory` a `PostgresDirectory(pool)`):

    svc = PlaylistService(repo, directory, on_decision=audit_hook)
    p = await svc.create(Actor("7"), "Road trip", song_ids=[1, 2])
    await svc.invite(Actor("7"), p.id, "8")          # owner invites user 8
    await svc.accept(Actor("8"), p.id)                # 8 is now a collaborator
    await svc.add_songs(Actor("8"), p.id, [3])        # and may edit
    p, token = await svc.create_link(Actor("7"), p.id)
    await svc.join(Actor("9"), p.id, token)           # whoever holds the link may join
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from spotctl_sandbox.playlists.access import Action, Actor, Decision, Relation, authorize, relation
from spotctl_sandbox.playlists.model import (
    MAX_COLLABORATORS,
    MAX_INVITES,
    MAX_SONGS,
    Invite,
    Playlist,
    Visibility,
    now,
)
from spotctl_sandbox.playlists.repository import PlaylistRepository

DecisionHook = Callable[[Actor, Action, str, Decision], Awaitable[None]]


class PlaylistError(Exception):
    """`status` as HTTP says it (401, 403, 404, 409, 422); `field` names the input at fault, if one is."""

    def __init__(self, status: int, reason: str, field: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field


class Directory(Protocol):
    """What the playlist rules need to know beyond playlists: which users and songs exist."""

    async def missing_users(self, user_ids: Iterable[str]) -> list[str]: ...

    async def missing_songs(self, song_ids: Iterable[int]) -> list[int]: ...


class PlaylistService:
    def __init__(self, repo: PlaylistRepository, directory: Directory, *,
                 on_decision: DecisionHook | None = None, attempts: int = 25) -> None:
        self.repo = repo
        self.directory = directory
        self.on_decision = on_decision  # called for every denial and every admin-only permission
        self.attempts = attempts

    async def _decide(self, playlist: Playlist | None, actor: Actor, action: Action, pid: str,
                      link: str | None = None) -> Playlist:
        decision = authorize(playlist, actor, action, pid=pid, link=link)
        if self.on_decision is not None and (not decision.allowed or decision.by_admin):
            await self.on_decision(actor, action, pid, decision)
        if not decision.allowed:
            raise PlaylistError(decision.status, decision.reason)
        assert playlist is not None
        return playlist

    async def _update(self, actor: Actor, pid: str, action: Action,
                      change: Callable[[Playlist], Playlist | None], link: str | None = None) -> Playlist:
        """Authorize, apply `change` (None: nothing to change), store if still current; retry on races."""
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(random.uniform(0, 0.002 * min(attempt, 10)))
            current = await self._decide(await self.repo.get(pid), actor, action, pid, link)
            updated = change(current)
            if updated is None:
                return current
            if await self.repo.replace(updated, current.version):
                return updated
        raise PlaylistError(409, f"playlist {pid} is being changed by others; try again")

    async def _may(self, actor: Actor, pid: str, action: Action) -> None:
        """Authorize before looking anything else up, so a refused caller learns nothing more."""
        await self._decide(await self.repo.get(pid), actor, action, pid)

    async def _check_songs(self, song_ids: Iterable[int]) -> None:
        missing = await self.directory.missing_songs(song_ids)
        if missing:
            raise PlaylistError(422, f"unknown song ids {sorted(missing)[:20]}", field="song_ids")

    # -- reading -----------------------------------------------------------------------------

    async def get(self, actor: Actor, pid: str, link: str | None = None) -> Playlist:
        return await self._decide(await self.repo.get(pid), actor, Action.READ, pid, link)

    async def library(self, actor: Actor) -> list[Playlist]:
        """What the actor owns, collaborates on or is invited to."""
        if actor.user_id is None:
            raise PlaylistError(401, "log in to list your playlists")
        return await self.repo.list_for_user(actor.user_id)

    # -- owning and editing --------------------------------------------------------------------

    async def create(self, actor: Actor, name: str, description: str = "", song_ids: list[int] | None = None,
                     visibility: Visibility = Visibility.PRIVATE) -> Playlist:
        if actor.user_id is None:
            raise PlaylistError(401, "log in to create playlists")
        songs = list(song_ids or [])
        if len(songs) > MAX_SONGS:
            raise PlaylistError(422, f"a playlist holds at most {MAX_SONGS} songs", field="song_ids")
        await self._check_songs(songs)
        playlist = Playlist.new(actor.user_id, name, description, songs, visibility)
        await self.repo.insert(playlist)
        return playlist

    async def edit(self, actor: Actor, pid: str, *, name: str | None = None, description: str | None = None,
                   song_ids: list[int] | None = None) -> Playlist:
        if song_ids is not None:
            await self._may(actor, pid, Action.EDIT)
            if len(song_ids) > MAX_SONGS:
                raise PlaylistError(422, f"a playlist holds at most {MAX_SONGS} songs", field="song_ids")
            await self._check_songs(song_ids)
        changes = {k: v for k, v in (("name", name), ("description", description), ("song_ids", song_ids))
                   if v is not None}
        return await self._update(actor, pid, Action.EDIT, lambda p: p.changed(**changes) if changes else None)

    async def add_songs(self, actor: Actor, pid: str, song_ids: list[int]) -> Playlist:
        await self._may(actor, pid, Action.EDIT)
        await self._check_songs(song_ids)

        def add(p: Playlist) -> Playlist:
            if len(p.song_ids) + len(song_ids) > MAX_SONGS:
                raise PlaylistError(409, f"playlist {pid} is full ({MAX_SONGS} songs)")
            return p.changed(song_ids=[*p.song_ids, *song_ids])

        return await self._update(actor, pid, Action.EDIT, add)

    async def delete(self, actor: Actor, pid: str) -> Playlist:
        playlist = await self._decide(await self.repo.get(pid), actor, Action.DELETE, pid)
        if not await self.repo.delete(pid):
            raise PlaylistError(404, f"playlist {pid} not found")
        return playlist

    # -- sharing -------------------------------------------------------------------------------

    async def set_visibility(self, actor: Actor, pid: str, visibility: Visibility) -> Playlist:
        return await self._update(actor, pid, Action.SHARE,
                                  lambda p: None if p.visibility is visibility else p.changed(visibility=visibility))

    async def invite(self, actor: Actor, pid: str, user_id: str) -> Playlist:
        """Invite an existing user; inviting a member again changes nothing."""
        await self._may(actor, pid, Action.SHARE)
        if await self.directory.missing_users([user_id]):
            raise PlaylistError(404, f"user {user_id} not found")

        def add(p: Playlist) -> Playlist | None:
            if relation(p, user_id) is not Relation.NONE:
                return None
            if len(p.invites) >= MAX_INVITES:
                raise PlaylistError(409, f"playlist {pid} has {MAX_INVITES} pending invites already")
            assert actor.user_id is not None
            return p.changed(invites=[*p.invites, Invite(user_id, actor.user_id, now())])

        return await self._update(actor, pid, Action.SHARE, add)

    async def accept(self, actor: Actor, pid: str) -> Playlist:
        def accept(p: Playlist) -> Playlist | None:
            if relation(p, actor.user_id) is Relation.COLLABORATOR:
                return None
            return _joined(p, str(actor.user_id))

        return await self._update(actor, pid, Action.ACCEPT, accept)

    async def join(self, actor: Actor, pid: str, link: str) -> Playlist:
        """Become a collaborator through the share link."""
        def join(p: Playlist) -> Playlist | None:
            if relation(p, actor.user_id) in (Relation.OWNER, Relation.COLLABORATOR):
                return None
            return _joined(p, str(actor.user_id))

        return await self._update(actor, pid, Action.JOIN, join, link=link)

    async def leave(self, actor: Actor, pid: str) -> Playlist:
        """A collaborator leaves, or an invitee declines."""
        return await self._update(actor, pid, Action.LEAVE, lambda p: _without(p, str(actor.user_id)))

    async def remove_member(self, actor: Actor, pid: str, user_id: str) -> Playlist:
        """The owner removes a collaborator or withdraws an invite (unknown members: no change)."""
        def remove(p: Playlist) -> Playlist | None:
            if relation(p, user_id) in (Relation.NONE, Relation.OWNER):
                return None
            return _without(p, user_id)

        return await self._update(actor, pid, Action.SHARE, remove)

    async def create_link(self, actor: Actor, pid: str) -> tuple[Playlist, str]:
        """A new share link (the previous one stops working); the token is returned only here."""
        token = ""

        def make(p: Playlist) -> Playlist:
            nonlocal token
            updated, token = p.with_link()
            return updated

        return await self._update(actor, pid, Action.SHARE, make), token

    async def revoke_link(self, actor: Actor, pid: str) -> Playlist:
        return await self._update(actor, pid, Action.SHARE, lambda p: p.changed(link=None) if p.link else None)


def _joined(p: Playlist, user_id: str) -> Playlist:
    if len(p.collaborators) >= MAX_COLLABORATORS:
        raise PlaylistError(409, f"playlist {p.id} has {MAX_COLLABORATORS} collaborators already")
    return p.changed(collaborators=[*p.collaborators, user_id],
                     invites=[i for i in p.invites if i.user_id != user_id])


def _without(p: Playlist, user_id: str) -> Playlist:
    return p.changed(collaborators=[c for c in p.collaborators if c != user_id],
                     invites=[i for i in p.invites if i.user_id != user_id])
