"""A user on the hub who keeps what they received: every pushed frame in arrival order, and a replica of
each collaborative playlist they opened.

The hub's own client (`HubClient`) hands frames out once; a guided flow checks them later ("did bob
get alice's typing frame?"), the TUI's watch pane shows them as they come, and a playlist edit is made
the way a real client makes it: on a local Yjs (pycrdt) replica, sent as the update it produced.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from spotctl.clients import hub
from spotctl.errors import SpotctlError

if TYPE_CHECKING:
    from pycrdt import Array, Doc

    from spotctl.endpoints import Endpoints
    from spotctl_sandbox.realtime.client import HubClient

Frame = dict[str, Any]
PLAYLIST_FIELD = "tracks"  # the array the hub's playlist documents hold
NO_REPLY = frozenset({"typing"})  # client messages the hub answers with nothing (docs/hub-protocol.md)


class Peer:
    """One connected user. `frames` grows for the peer's whole life (reconnects included)."""

    def __init__(self, client: HubClient, on_frame: Callable[[Frame], None] | None = None) -> None:
        self.client = client
        self.frames: list[Frame] = []
        self.closed: str | None = None  # why the connection ended, once it has
        self.on_frame = on_frame
        self._docs: dict[str, Doc[Any]] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @property
    def user_id(self) -> str:
        return self.client.user_id

    async def _read(self) -> None:
        from spotctl_sandbox.realtime.client import HubError

        while True:
            try:
                frame = await self.client.recv()
            except HubError as exc:
                self.closed = str(exc)
                return
            frame["received_at"] = time.time()
            if frame.get("type") == "playlist_update":
                self._apply(frame.get("content", {}))
            self.frames.append(frame)
            if self.on_frame is not None:
                self.on_frame(frame)

    async def stop(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def request(self, kind: str, content: dict[str, Any] | None = None, timeout: float = 10.0) -> Any:
        """Send and wait for the reply's content (an error frame raises HubError, no reply within
        `timeout` TimeoutError); None for a message the hub never answers. Opening a playlist starts its
        local replica."""
        if kind in NO_REPLY:
            await self.client.send(kind, content or {})
            return None
        reply = await self.client.request(kind, content or {}, timeout=timeout)
        if kind == "playlist_open" and isinstance(reply, dict) and reply.get("update"):
            self._replica(str(reply["playlist_id"]), reply["update"])
        elif kind == "playlist_undo" and isinstance(reply, dict):
            self._apply(reply)  # the undo the hub made (its frame brings it again: Yjs updates are idempotent)
        return reply

    # -- collaborative playlists ---------------------------------------------------------------------

    def _replica(self, playlist_id: str, update_b64: str) -> None:
        from pycrdt import Doc

        doc: Doc[Any] = Doc()
        doc.apply_update(base64.b64decode(update_b64))
        self._docs[playlist_id] = doc

    def _apply(self, content: dict[str, Any]) -> None:
        doc = self._docs.get(str(content.get("playlist_id")))
        if doc is not None and content.get("update"):
            doc.apply_update(base64.b64decode(content["update"]))

    def replica(self, playlist_id: str) -> list[str] | None:
        """The playlist as this peer's replica holds it now (None if the peer never opened it)."""
        return [str(t) for t in self._array(playlist_id)] if playlist_id in self._docs else None

    def _array(self, playlist_id: str) -> Array[Any]:
        from pycrdt import Array

        doc = self._docs.get(playlist_id)
        if doc is None:
            raise SpotctlError(f"{self.user_id} has not opened playlist {playlist_id}",
                               hint="send playlist_open first")
        tracks: Array[Any] = doc.get(PLAYLIST_FIELD, type=Array)
        return tracks

    def edit(self, playlist_id: str, *, insert: Sequence[str] = (), at: int = 0, delete: int = 0) -> Frame:
        """Edit the local replica (delete `delete` tracks at `at`, then insert `insert` there) and return
        the `playlist_update` content carrying just that change, ready to send."""
        doc = self._docs.get(playlist_id)
        tracks = self._array(playlist_id)
        assert doc is not None
        state = doc.get_state()
        with doc.transaction():
            for _ in range(min(delete, max(0, len(tracks) - at))):
                del tracks[at]
            for offset, track in enumerate(insert):
                tracks.insert(min(at, len(tracks)) + offset, track)
        update = doc.get_update(state)
        return {"playlist_id": playlist_id, "update": base64.b64encode(update).decode()}


@asynccontextmanager
async def connect(ep: Endpoints, user: str, *, ns: str = "default", token: str | None = None,
                  on_frame: Callable[[Frame], None] | None = None) -> AsyncIterator[Peer]:
    """A Peer acting as `user` (a token is minted and revoked as `hub.session` does)."""
    async with hub.session(ep, user, token, ns, reconnect=True) as client:
        peer = Peer(client, on_frame)
        try:
            yield peer
        finally:
            await peer.stop()
