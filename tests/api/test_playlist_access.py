"""The one permission check for playlists (spotctl_sandbox.playlists.access), as a table: pure, no I/O."""

from __future__ import annotations

from datetime import timedelta

import pytest

from spotctl_sandbox.playlists import Action, Actor, Playlist, Visibility, authorize
from spotctl_sandbox.playlists.model import Invite, now

OWNER, COLLAB, INVITED, OTHER, ADMIN = Actor("1"), Actor("2"), Actor("3"), Actor("4"), Actor("5", admin=True)
ANON = Actor(None)


def playlist(visibility: Visibility = Visibility.PRIVATE) -> Playlist:
    p = Playlist.new("1", "Shared", visibility=visibility)
    return p.changed(collaborators=["2"], invites=[Invite("3", "1", now())])


# (actor, action) -> status on a private playlist; 200 means allowed
PRIVATE = {
    (OWNER, Action.READ): 200, (COLLAB, Action.READ): 200, (INVITED, Action.READ): 200,
    (OTHER, Action.READ): 404, (ANON, Action.READ): 404, (ADMIN, Action.READ): 200,
    (OWNER, Action.EDIT): 200, (COLLAB, Action.EDIT): 200, (INVITED, Action.EDIT): 403,
    (OTHER, Action.EDIT): 404, (ANON, Action.EDIT): 404, (ADMIN, Action.EDIT): 403,
    (OWNER, Action.SHARE): 200, (COLLAB, Action.SHARE): 403, (INVITED, Action.SHARE): 403,
    (OTHER, Action.SHARE): 404, (ADMIN, Action.SHARE): 403,
    (OWNER, Action.DELETE): 200, (COLLAB, Action.DELETE): 403, (OTHER, Action.DELETE): 404,
    (ADMIN, Action.DELETE): 200,
    (INVITED, Action.ACCEPT): 200, (COLLAB, Action.ACCEPT): 200, (OWNER, Action.ACCEPT): 403,
    (OTHER, Action.ACCEPT): 404,
    (COLLAB, Action.LEAVE): 200, (INVITED, Action.LEAVE): 200, (OWNER, Action.LEAVE): 403,
    (OTHER, Action.JOIN): 404,
}


@pytest.mark.parametrize(("actor", "action", "status"), [(a, act, s) for (a, act), s in PRIVATE.items()])
def test_private_playlist(actor: Actor, action: Action, status: int) -> None:
    decision = authorize(playlist(), actor, action)
    assert (decision.allowed, decision.status) == (status == 200, status), decision.reason


def test_public_playlists_are_readable_by_anyone_but_editable_by_members_only() -> None:
    p = playlist(Visibility.PUBLIC)
    assert authorize(p, ANON, Action.READ).allowed and authorize(p, OTHER, Action.READ).allowed
    assert authorize(p, ANON, Action.EDIT).status == 401
    assert authorize(p, OTHER, Action.EDIT).status == 403
    assert authorize(p, ADMIN, Action.READ).by_admin is False  # public: nothing admin-only about it


def test_a_share_link_lets_its_holder_read_and_join_until_it_expires() -> None:
    p, token = playlist().with_link(timedelta(hours=1))
    assert authorize(p, OTHER, Action.READ, link=token).allowed
    assert authorize(p, ANON, Action.READ, link=token).allowed
    assert authorize(p, OTHER, Action.JOIN, link=token).allowed
    assert authorize(p, OTHER, Action.EDIT, link=token).status == 403  # join first
    assert authorize(p, OTHER, Action.JOIN, link=token + "x").status == 404
    later = now() + timedelta(hours=2)
    assert authorize(p, OTHER, Action.READ, link=token, at=later).status == 404
    assert p.link is not None and token not in p.link.digest  # only the digest is stored


def test_admin_powers_are_flagged_for_the_audit() -> None:
    assert authorize(playlist(), ADMIN, Action.DELETE).by_admin
    assert authorize(playlist(), ADMIN, Action.READ).by_admin
    assert not authorize(playlist(), OWNER, Action.DELETE).by_admin


def test_unknown_playlists_are_404_for_everyone() -> None:
    assert authorize(None, OWNER, Action.READ, pid="ab").reason == "playlist ab not found"


def test_documents_from_before_sharing_read_as_private_owner_only() -> None:
    old = {"id": "a" * 32, "user_id": "1", "name": "Old", "description": "", "song_ids": [1],
           "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-01-01T00:00:00+00:00"}
    p = Playlist.from_document(old)
    assert (p.visibility, p.collaborators, p.invites, p.link, p.version) == (Visibility.PRIVATE, (), (), None, 0)
    assert Playlist.from_document(p.document()) == p
