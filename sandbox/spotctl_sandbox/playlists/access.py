"""Who may do what with a playlist: one pure function, used by the API routes and the hub alike.

    action   owner  collaborator  invitee  link holder  anyone (public)  admin (not a member)
    read       y         y           y          y              y                 y
    edit       y         y           -          -              -                 -
    share      y         -           -          -              -                 -
    delete     y         -           -          -              -                 y
    accept     -         y (no-op)   y          -              -                 -
    leave      -         y           y          -              -                 -
    join       y (no-op) y (no-op)   y          y              -                 -

`edit` is the songs, name and description; `share` is visibility, invites, share links and removing
members. A caller who may not read the playlist is told it does not exist (404), so private
playlists do not leak; one who may read but not act gets a 403 saying who may.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from spotctl_sandbox.common.tokens import Claims, Role
from spotctl_sandbox.playlists.model import Playlist, Visibility, link_digest, now


class Action(StrEnum):
    READ = "read"
    EDIT = "edit"
    SHARE = "share"
    DELETE = "delete"
    ACCEPT = "accept"
    LEAVE = "leave"
    JOIN = "join"


class Relation(StrEnum):
    OWNER = "owner"
    COLLABORATOR = "collaborator"
    INVITED = "invited"
    NONE = "none"


@dataclass(frozen=True)
class Actor:
    """Who acts: an account id (None: anonymous) and whether it holds the admin role."""

    user_id: str | None
    admin: bool = False

    @classmethod
    def of(cls, claims: Claims | None) -> Actor:
        if claims is None:
            return cls(None)
        return cls(claims.user_id, Role.ADMIN in claims.roles)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int  # 200 when allowed; else 401, 403 or 404 as the API answers it
    reason: str
    by_admin: bool = False  # allowed only because the actor is an admin: an admin action to audit


def relation(playlist: Playlist, user_id: str | None) -> Relation:
    if user_id is None:
        return Relation.NONE
    if playlist.user_id == user_id:
        return Relation.OWNER
    if user_id in playlist.collaborators:
        return Relation.COLLABORATOR
    if playlist.invited(user_id):
        return Relation.INVITED
    return Relation.NONE


def link_valid(playlist: Playlist, link: str | None, at: datetime) -> bool:
    if not link or playlist.link is None or playlist.link.expires_at <= at:
        return False
    return hmac.compare_digest(link_digest(link), playlist.link.digest)


_ALLOWED: dict[Action, frozenset[Relation]] = {
    Action.EDIT: frozenset({Relation.OWNER, Relation.COLLABORATOR}),
    Action.SHARE: frozenset({Relation.OWNER}),
    Action.DELETE: frozenset({Relation.OWNER}),
    Action.ACCEPT: frozenset({Relation.COLLABORATOR, Relation.INVITED}),
    Action.LEAVE: frozenset({Relation.COLLABORATOR, Relation.INVITED}),
    Action.JOIN: frozenset({Relation.OWNER, Relation.COLLABORATOR, Relation.INVITED}),
}
_WHO: dict[Action, str] = {
    Action.EDIT: "only its owner and collaborators may edit",
    Action.SHARE: "only its owner may share it or change its members",
    Action.DELETE: "only its owner (or an admin) may delete",
    Action.ACCEPT: "there is no pending invite for you to accept on",
    Action.LEAVE: "you are not a collaborator or invitee of",
    Action.JOIN: "a valid share link is needed to join",
}


def authorize(playlist: Playlist | None, actor: Actor, action: Action, *, pid: str = "",
              link: str | None = None, at: datetime | None = None) -> Decision:
    """May `actor` do `action` on `playlist` (None: not found)? `link` is a share-link token the
    caller presented; `at` the time to judge its expiry by (default now)."""
    ident = playlist.id if playlist else pid
    missing = Decision(False, 404, f"playlist {ident} not found")
    if playlist is None:
        return missing
    rel = relation(playlist, actor.user_id)
    has_link = link_valid(playlist, link, at or now())
    readable = (rel is not Relation.NONE or playlist.visibility is Visibility.PUBLIC or has_link
                or actor.admin)
    if not readable:
        return missing
    if action is Action.READ:
        return Decision(True, 200, "", by_admin=rel is Relation.NONE and actor.admin
                        and playlist.visibility is not Visibility.PUBLIC and not has_link)
    if actor.user_id is None:
        return Decision(False, 401, f"log in to {action.value} playlist {playlist.id}")
    if rel in _ALLOWED[action] or (action is Action.JOIN and has_link):
        return Decision(True, 200, "")
    if action is Action.DELETE and actor.admin:
        return Decision(True, 200, "", by_admin=True)
    if rel is Relation.OWNER and action is Action.LEAVE:
        return Decision(False, 403, f"the owner cannot leave playlist {playlist.id}; delete it instead")
    return Decision(False, 403, f"{_WHO[action]} playlist {playlist.id}")
