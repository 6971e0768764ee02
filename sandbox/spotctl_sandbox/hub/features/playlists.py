"""Collaborative playlists: Yjs (pycrdt) updates from clients merged without loss, persisted in
PostgreSQL as an append-only log (version history: who changed what, when), with undo and editor
presence.

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

from spotctl_sandbox.realtime import bus, keys
from spotctl_sandbox.realtime.protocol import ErrorCode, ProtocolError
from spotctl_sandbox.realtime.topics import Topic

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


def topic(playlist_id: str) -> Topic:
    return Topic.playlist(playlist_id)


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


async def _state(ctx: Context, pid: str) -> dict[str, Any]:
    async with ctx.database().pool.connection() as db, db.cursor(row_factory=dict_row) as cur:
        od = await _catch_up(ctx, pid, cur)
    editors = sorted(bus.text_of(e) for e in await ctx.redis.zrangebyscore(
        keys.editors(ctx.conn.ns, pid), time.time() - EDITOR_TTL_S, "+inf"))
    return {"playlist_id": pid, "version": od.last_row, "tracks": od.snapshot(), "editors": editors,
            "update": base64.b64encode(od.doc.get_update()).decode()}


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
    """Start editing: the full document (as one Yjs update) plus who else is editing."""
    pid = content["playlist_id"]
    ctx.database()
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


async def _commit(ctx: Context, pid: str, update: bytes, label: str) -> dict[str, Any]:
    """Merge one update, log it with a summary, fan it out; the advisory lock orders the log."""
    async with ctx.database().pool.connection() as db, db.transaction(), db.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{ctx.conn.ns}/{pid}",))
        od = await _catch_up(ctx, pid, cur)
        before = od.snapshot()
        try:
            od.doc.apply_update(update)
        except Exception as exc:
            raise ProtocolError(ErrorCode.INVALID_CONTENT, f"not a valid Yjs update: {exc}") from None
        summary = summarize(before, od.snapshot()) | {"label": label}
        await cur.execute("INSERT INTO hub_playlist_updates (ns, playlist_id, user_id, update, summary) "
                          "VALUES (%s, %s, %s, %s, %s) RETURNING id, created_at",
                          (ctx.conn.ns, pid, ctx.conn.user_id, update, Jsonb(summary)))
        row = await cur.fetchone()
        assert row is not None
        od.last_row = row["id"]
        tracks = od.snapshot()
    await ctx.redis.zadd(keys.editors(ctx.conn.ns, pid), {ctx.conn.user_id: time.time()})
    change = {"playlist_id": pid, "version": row["id"], "user_id": ctx.conn.user_id, "summary": summary,
              "update": base64.b64encode(update).decode(), "tracks": tracks}
    await ctx.publish(topic(pid), "playlist_update", change, durable=True, echo=False)
    return {"playlist_id": pid, "version": row["id"], "summary": summary, "tracks": tracks}


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
    result = await _commit(ctx, pid, update, "undo")
    async with ctx.database().pool.connection() as db:
        await db.execute("UPDATE hub_playlist_updates SET summary = summary || %s WHERE id = %s",
                         (Jsonb({"undoes": str(target["id"])}), result["version"]))
    return result | {"undid": target["id"]}


@feature.message("playlist_history", obj({"playlist_id": ID},
                                          {"limit": {"type": "integer", "minimum": 1, "maximum": 200}}))
async def playlist_history(ctx: Context, content: PlaylistHistory) -> Reply:
    pid = content["playlist_id"]
    async with ctx.database().pool.connection() as db, db.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT id, user_id, summary, created_at FROM hub_playlist_updates "
                          "WHERE ns = %s AND playlist_id = %s ORDER BY id DESC LIMIT %s",
                          (ctx.conn.ns, pid, content.get("limit", 50)))
        rows = await cur.fetchall()
    return {"playlist_id": pid, "versions": [{"version": r["id"], "user_id": r["user_id"],
                                              "summary": r["summary"], "at": r["created_at"].isoformat()}
                                             for r in rows]}
