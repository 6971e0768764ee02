"""Collaborative playlists: live editing of the API's playlists (`spotctl_sandbox.playlists`: one model
with owner, collaborators, invites and share links, and one set of rules for the API and the hub).

Clients edit a Yjs (pycrdt) document whose `tracks` array holds the playlist's song ids; concurrent
updates merge without loss, are logged in PostgreSQL (version history: who changed what, when; undo),
and the merged list is stored into the API's playlist through `PlaylistService`, which authorizes every
read and edit exactly as the API's routes do. A change made through the API is folded into the document
(a logged `sync` edit) the next time the hub touches it.

Each worker keeps the documents it has open and catches up from the log before applying a new
update, so two workers applying concurrent edits converge (that is the CRDT's job).
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from psycopg import AsyncCursor
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pycrdt import Array, Doc

from spotctl_sandbox.playlists import (
    Action,
    Actor,
    Decision,
    Playlist,
    PlaylistError,
    PlaylistService,
    PostgresDirectory,
)
from spotctl_sandbox.realtime import bus, keys
from spotctl_sandbox.realtime.protocol import ErrorCode, ProtocolError
from spotctl_sandbox.realtime.topics import Topic

from .. import audit
from ..core.playlist_diff import inverse_ops, summarize
from .context import Context
from .feature import ID, Feature, Reply, obj

EDITOR_TTL_S = 120

feature = Feature("playlists", pushes={
    "playlist_update": "someone else's edit, merged (never your own)",
    "playlist_presence": "someone opened or closed the playlist for editing",
})


class PlaylistRef(TypedDict):
    playlist_id: str


class PlaylistUpdate(TypedDict):
    playlist_id: str
    update: str


class PlaylistHistory(TypedDict):
    playlist_id: str
    limit: NotRequired[int]


@dataclass
class OpenDoc:
    doc: Doc[Any] = field(default_factory=Doc)
    last_row: int = 0

    @property
    def tracks(self) -> Array[Any]:
        return self.doc.get("tracks", type=Array)

    def snapshot(self) -> list[str]:
        return [str(t) for t in self.tracks]


_DOCS: dict[tuple[str, str], OpenDoc] = {}  # least recently used first
MAX_OPEN_DOCS = 256  # a dropped doc is rebuilt from the log on its next use
API = "api"  # the author of a logged `sync` edit: a change that came through the API
_CODES = {401: ErrorCode.FORBIDDEN, 403: ErrorCode.FORBIDDEN, 404: ErrorCode.NOT_FOUND, 409: ErrorCode.CONFLICT,
          422: ErrorCode.INVALID_CONTENT}


def topic(playlist_id: str) -> Topic:
    return Topic.playlist(playlist_id)


def _service(ctx: Context) -> PlaylistService:
    """The playlist rules, as the API applies them; denials and admin-only permissions are audited."""
    store = ctx.playlists()

    async def decided(actor: Actor, action: Action, pid: str, decision: Decision) -> None:
        if decision.by_admin:
            await audit.admin_action(ctx.redis, ns=ctx.conn.ns, user_id=ctx.conn.user_id, kind=action.value,
                                     target=f"playlist:{pid}")
        elif not decision.allowed:
            await audit.denied(ctx.redis, ns=ctx.conn.ns, user_id=ctx.conn.user_id, kind=f"playlist {action.value}",
                               reason=decision.reason)

    return PlaylistService(store, PostgresDirectory(ctx.database().pool), on_decision=decided)


def _actor(ctx: Context) -> Actor:
    return Actor(ctx.conn.user_id, admin=ctx.conn.admin)


def _refused(exc: PlaylistError) -> ProtocolError:
    """A PlaylistError (HTTP status) as the hub's error code; its denial is already audited."""
    return ProtocolError(_CODES.get(exc.status, ErrorCode.INVALID_CONTENT), exc.reason, audited=True)


async def _read(ctx: Context, pid: str) -> Playlist:
    try:
        return await _service(ctx).get(_actor(ctx), pid)
    except PlaylistError as exc:
        raise _refused(exc) from None


def _song_ids(tracks: list[str]) -> list[int]:
    bad = next((t for t in tracks if not (t.isascii() and t.isdigit() and 0 < int(t) < 2**63)), None)
    if bad is not None:
        raise ProtocolError(ErrorCode.INVALID_CONTENT, f"track {bad[:40]!r} is not a song id: the document's "
                            "tracks are the playlist's song ids, as decimal strings")
    return [int(t) for t in tracks]


async def _catch_up(ctx: Context, pid: str, cur: AsyncCursor[dict[str, Any]]) -> OpenDoc:
    key = (ctx.conn.ns, pid)
    od = _DOCS.pop(key, None) or OpenDoc()
    _DOCS[key] = od
    while len(_DOCS) > MAX_OPEN_DOCS:
        del _DOCS[next(iter(_DOCS))]
    await cur.execute("SELECT id, update FROM hub_playlist_updates WHERE ns = %s AND playlist_id = %s "
                      "AND id > %s ORDER BY id", (ctx.conn.ns, pid, od.last_row))
    for row in await cur.fetchall():
        od.doc.apply_update(bytes(row["update"]))
        od.last_row = row["id"]
    return od


async def _log(ctx: Context, pid: str, cur: AsyncCursor[dict[str, Any]], od: OpenDoc, user_id: str, update: bytes,
               summary: dict[str, Any]) -> int:
    await cur.execute("INSERT INTO hub_playlist_updates (ns, playlist_id, user_id, update, summary) "
                      "VALUES (%s, %s, %s, %s, %s) RETURNING id", (ctx.conn.ns, pid, user_id, update, Jsonb(summary)))
    row = await cur.fetchone()
    assert row is not None
    od.last_row = int(row["id"])
    return od.last_row


async def _synced(ctx: Context, pid: str,
                  cur: AsyncCursor[dict[str, Any]]) -> tuple[OpenDoc, dict[str, Any] | None, Playlist]:
    """The document caught up from the log and, if the playlist's songs changed outside the hub (or the
    document is new), moved to them as a logged `sync` edit, which is returned to fan out. Called under
    `_locked`, and reads the playlist there: one read before the lock would take the edit committed
    meanwhile for a change through the API and 'sync' it away."""
    playlist = await _read(ctx, pid)
    od = await _catch_up(ctx, pid, cur)
    before, wanted = od.snapshot(), [str(s) for s in playlist.song_ids]
    if before == wanted:
        return od, None, playlist
    state = od.doc.get_state()
    with od.doc.transaction():
        del od.tracks[0:len(od.tracks)]
        od.tracks.extend(wanted)
    update = od.doc.get_update(state)
    summary = summarize(before, wanted) | {"label": "sync"}
    version = await _log(ctx, pid, cur, od, API, update, summary)
    return od, {"playlist_id": pid, "version": version, "user_id": API, "summary": summary,
                "update": base64.b64encode(update).decode(), "tracks": wanted}, playlist


async def _locked(cur: AsyncCursor[dict[str, Any]], ns: str, pid: str) -> None:
    """Orders the log of one playlist across workers (released with the transaction)."""
    await cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{ns}/{pid}",))


async def _state(ctx: Context, pid: str) -> dict[str, Any]:
    async with ctx.database().pool.connection() as db, db.transaction(), db.cursor(row_factory=dict_row) as cur:
        await _locked(cur, ctx.conn.ns, pid)
        od, synced, playlist = await _synced(ctx, pid, cur)
    if synced is not None:
        await ctx.publish(topic(pid), "playlist_update", synced, durable=True, echo=False)
    editors = sorted(bus.text_of(e) for e in await ctx.redis.zrangebyscore(
        keys.editors(ctx.conn.ns, pid), time.time() - EDITOR_TTL_S, "+inf"))
    return {"playlist_id": pid, "name": playlist.name, "version": od.last_row, "tracks": od.snapshot(),
            "editors": editors, "update": base64.b64encode(od.doc.get_update()).decode()}


async def _editors_changed(ctx: Context, pid: str, joined: bool) -> None:
    key = keys.editors(ctx.conn.ns, pid)
    if joined:
        await ctx.redis.zadd(key, {ctx.conn.user_id: time.time()})
        await ctx.redis.expire(key, EDITOR_TTL_S * 2)
    else:
        await ctx.redis.zrem(key, ctx.conn.user_id)
    await ctx.publish(topic(pid), "playlist_presence",
                      {"playlist_id": pid, "user_id": ctx.conn.user_id, "editing": joined})


@feature.message("playlist_open", obj({"playlist_id": ID}))
async def playlist_open(ctx: Context, content: PlaylistRef) -> Reply:
    """Start editing: the full document (as one Yjs update) plus who else is editing. Needs `read`."""
    pid = content["playlist_id"]
    await _read(ctx, pid)  # may this user read it? Before anyone is told they opened it
    await ctx.hub.subscribe(ctx.conn, topic(pid))
    await _editors_changed(ctx, pid, True)
    return await _state(ctx, pid)


@feature.message("playlist_close", obj({"playlist_id": ID}))
async def playlist_close(ctx: Context, content: PlaylistRef) -> Reply:
    pid = content["playlist_id"]
    if ctx.joined(topic(pid)):  # only an editor's close tells the others
        await ctx.hub.unsubscribe(ctx.conn, topic(pid))
        await _editors_changed(ctx, pid, False)
    return {"playlist_id": pid}


async def _commit(ctx: Context, pid: str, update: bytes, label: str, undoes: int | None = None) -> dict[str, Any]:
    """Merge one update, store the merged songs into the playlist (authorized as `edit`), log it,
    fan it out. Nothing is logged or kept when the playlist refuses the result. An edit is not echoed
    to its sender (it made the update); an undo, made here, goes to every editor, the undoer too."""
    svc, key = _service(ctx), (ctx.conn.ns, pid)
    async with ctx.database().pool.connection() as db, db.transaction(), db.cursor(row_factory=dict_row) as cur:
        await _locked(cur, ctx.conn.ns, pid)
        od, synced, _ = await _synced(ctx, pid, cur)
        before = od.snapshot()
        try:
            try:
                od.doc.apply_update(update)
            except Exception as exc:
                raise ProtocolError(ErrorCode.INVALID_CONTENT, f"not a valid Yjs update: {exc}") from None
            tracks = od.snapshot()
            try:
                await svc.edit(_actor(ctx), pid, song_ids=_song_ids(tracks))
            except PlaylistError as exc:
                raise _refused(exc) from None
        except BaseException:
            _DOCS.pop(key, None)  # the shared copy saw a refused update: rebuild it from the log
            raise
        summary = summarize(before, tracks) | {"label": label}
        if undoes is not None:
            summary["undoes"] = str(undoes)
        version = await _log(ctx, pid, cur, od, ctx.conn.user_id, update, summary)
    if synced is not None:
        await ctx.publish(topic(pid), "playlist_update", synced, durable=True, echo=False)
    await ctx.redis.zadd(keys.editors(ctx.conn.ns, pid), {ctx.conn.user_id: time.time()})
    change = {"playlist_id": pid, "version": version, "user_id": ctx.conn.user_id, "summary": summary,
              "update": base64.b64encode(update).decode(), "tracks": tracks}
    await ctx.publish(topic(pid), "playlist_update", change, durable=True, echo=undoes is not None)
    return {"playlist_id": pid, "version": version, "summary": summary, "tracks": tracks}



@feature.message("playlist_update", obj({"playlist_id": ID,
                                         "update": {"type": "string", "minLength": 1, "maxLength": 65536}}))
async def playlist_update(ctx: Context, content: PlaylistUpdate) -> Reply:
    pid = content["playlist_id"]
    if not ctx.joined(topic(pid)):
        raise ProtocolError(ErrorCode.FORBIDDEN, "open the playlist (playlist_open) before editing it")
    try:
        update = base64.b64decode(content["update"], validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(ErrorCode.INVALID_CONTENT, "update must be base64 of a Yjs update") from None
    return await _commit(ctx, pid, update, "edit")


@feature.message("playlist_undo", obj({"playlist_id": ID}))
async def playlist_undo(ctx: Context, content: PlaylistRef) -> Reply:
    """Undo the caller's latest edit that is not already undone, as a new (logged) edit."""
    pid = content["playlist_id"]
    if not ctx.joined(topic(pid)):
        raise ProtocolError(ErrorCode.FORBIDDEN, "open the playlist (playlist_open) before editing it")
    async with ctx.database().pool.connection() as db, db.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT id, summary FROM hub_playlist_updates WHERE ns = %s AND playlist_id = %s "
                          "AND user_id = %s AND summary->>'label' = 'edit' AND NOT EXISTS (SELECT 1 FROM "
                          "hub_playlist_updates u WHERE u.ns = %s AND u.playlist_id = %s "
                          "AND u.summary->>'undoes' = hub_playlist_updates.id::text) ORDER BY id DESC LIMIT 1",
                          (ctx.conn.ns, pid, ctx.conn.user_id, ctx.conn.ns, pid))
        target = await cur.fetchone()
        if target is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, "nothing of yours to undo in this playlist")
        od = await _catch_up(ctx, pid, cur)
    ops = inverse_ops(target["summary"], od.snapshot())
    if not ops:
        raise ProtocolError(ErrorCode.CONFLICT, "that edit cannot be undone any more (its tracks changed)")
    scratch = OpenDoc()  # edit a copy: _commit applies the resulting update to the shared doc
    scratch.doc.apply_update(od.doc.get_update())
    state = scratch.doc.get_state()
    with scratch.doc.transaction():
        for op, index, track in ops:
            if op == "delete":
                del scratch.tracks[index]
            else:
                scratch.tracks.insert(index, track)
    update = scratch.doc.get_update(state)
    result = await _commit(ctx, pid, update, "undo", undoes=int(target["id"]))
    return result | {"undid": target["id"], "update": base64.b64encode(update).decode()}


@feature.message("playlist_history", obj({"playlist_id": ID},
                                          {"limit": {"type": "integer", "minimum": 1, "maximum": 200}}))
async def playlist_history(ctx: Context, content: PlaylistHistory) -> Reply:
    pid = content["playlist_id"]
    await _read(ctx, pid)
    async with ctx.database().pool.connection() as db, db.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT id, user_id, summary, created_at FROM hub_playlist_updates "
                          "WHERE ns = %s AND playlist_id = %s ORDER BY id DESC LIMIT %s",
                          (ctx.conn.ns, pid, content.get("limit", 50)))
        rows = await cur.fetchall()
    return {"playlist_id": pid, "versions": [{"version": r["id"], "user_id": r["user_id"],
                                              "summary": r["summary"], "at": r["created_at"].isoformat()}
                                             for r in rows]}
