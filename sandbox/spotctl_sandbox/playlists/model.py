"""The playlist record, as both back-ends store it and both the API and the hub edit it.

A playlist has one owner (`user_id`), collaborators who may edit it, pending invites (by user) and
at most one share link. The link's token is given to the owner once; only its SHA-256 is stored, so
a database dump does not hand out links. `version` grows by one with every stored change: writers
replace a document only if the version they read is still current (optimistic concurrency), so
the API and the hub never overwrite each other's edits.

Documents written before sharing existed lack the new fields and read as private, owner-only, v0.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

MAX_SONGS = 1000
MAX_COLLABORATORS = 50
MAX_INVITES = 100
LINK_TTL = timedelta(days=7)


class Visibility(StrEnum):
    PRIVATE = "private"  # the owner, collaborators and invitees (and holders of the share link)
    PUBLIC = "public"    # anyone may read, even without an account; editing stays with members


def now() -> datetime:
    return datetime.now(UTC)


def link_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Invite:
    user_id: str
    invited_by: str
    at: datetime

    def document(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "invited_by": self.invited_by, "at": self.at.isoformat()}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Invite:
        return cls(str(doc["user_id"]), str(doc.get("invited_by", "")), _dt(doc.get("at") or now()))


@dataclass(frozen=True)
class ShareLink:
    """A link that lets whoever holds it read the playlist and join it as a collaborator."""

    digest: str
    created_at: datetime
    expires_at: datetime

    def document(self) -> dict[str, Any]:
        return {"digest": self.digest, "created_at": self.created_at.isoformat(),
                "expires_at": self.expires_at.isoformat()}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> ShareLink:
        return cls(str(doc["digest"]), _dt(doc["created_at"]), _dt(doc["expires_at"]))


@dataclass(frozen=True)
class Playlist:
    id: str
    user_id: str  # the owner (the name documents have always used)
    name: str
    description: str = ""
    song_ids: tuple[int, ...] = ()
    visibility: Visibility = Visibility.PRIVATE
    collaborators: tuple[str, ...] = ()
    invites: tuple[Invite, ...] = ()
    link: ShareLink | None = None
    version: int = 0
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)

    @property
    def owner_id(self) -> str:
        return self.user_id

    @classmethod
    def new(cls, user_id: str, name: str, description: str = "", song_ids: list[int] | tuple[int, ...] = (),
            visibility: Visibility = Visibility.PRIVATE) -> Playlist:
        return cls(id=uuid.uuid4().hex, user_id=str(user_id), name=name, description=description,
                   song_ids=tuple(song_ids), visibility=visibility)

    def changed(self, **changes: Any) -> Playlist:
        """A copy with `changes`, the next version and a fresh updated_at."""
        for key in ("song_ids", "collaborators", "invites"):
            if key in changes:
                changes[key] = tuple(changes[key])
        return replace(self, **changes, version=self.version + 1, updated_at=now())

    def members(self) -> set[str]:
        """Everyone whose library lists this playlist: owner, collaborators, invitees."""
        return {self.user_id, *self.collaborators, *(i.user_id for i in self.invites)}

    def invited(self, user_id: str) -> bool:
        return any(i.user_id == user_id for i in self.invites)

    def with_link(self, ttl: timedelta = LINK_TTL) -> tuple[Playlist, str]:
        """A new share link (the old one stops working) and its token, shown to the owner once."""
        token = secrets.token_urlsafe(24)
        created = now()
        return self.changed(link=ShareLink(link_digest(token), created, created + ttl)), token

    def document(self) -> dict[str, Any]:
        """The stored shape (same fields in MongoDB and in the JSONB column)."""
        return {"id": self.id, "user_id": self.user_id, "name": self.name, "description": self.description,
                "song_ids": list(self.song_ids), "visibility": self.visibility.value,
                "collaborators": list(self.collaborators), "invites": [i.document() for i in self.invites],
                "link": self.link.document() if self.link else None, "version": self.version,
                "created_at": self.created_at.isoformat(), "updated_at": self.updated_at.isoformat()}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Playlist:
        link = doc.get("link")
        return cls(id=str(doc["id"]), user_id=str(doc["user_id"]), name=doc["name"],
                   description=doc.get("description", ""), song_ids=tuple(int(s) for s in doc["song_ids"]),
                   visibility=Visibility(doc.get("visibility", Visibility.PRIVATE.value)),
                   collaborators=tuple(str(c) for c in doc.get("collaborators", ())),
                   invites=tuple(Invite.from_document(i) for i in doc.get("invites", ())),
                   link=ShareLink.from_document(link) if link else None, version=int(doc.get("version", 0)),
                   created_at=_dt(doc["created_at"]), updated_at=_dt(doc["updated_at"]))


def _dt(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
