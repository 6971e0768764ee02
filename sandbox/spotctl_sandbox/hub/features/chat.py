"""Chat: public, private and direct channels with membership, persisted history, search, typing,
read receipts and per-channel presence.

Authorization: anyone in the namespace may join a public channel; private and direct channels only
admit members (a member invites). Sending, typing and receipts need a joined (subscribed) channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, NotRequired, TypedDict

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from spotctl_sandbox.realtime import protocol
from spotctl_sandbox.realtime.protocol import ErrorCode, ProtocolError
from spotctl_sandbox.realtime.topics import Kind, Topic

from ..conn import Conn
from ..node import Hub
from .context import Context
from .feature import CLIENT_MSG_ID, EMPTY, ID, INT_ID, SENT_LOOKBACK_MS, TEXT, Empty, Feature, Reply, obj

feature = Feature("chat", pushes={
    "chat_message": "a message in a channel you joined (the sender gets it too)",
    "channel_invited": "you were added to a channel (on your user topic)",
    "typing": "someone else is typing in a joined channel (never your own)",
    "read_receipt": "someone else read up to a message (never your own)",
    "presence": "a member of a joined channel went online, away or offline (not your own join)",
})

NAME = {"type": "string", "minLength": 1, "maxLength": 100}  # a channel's name
ATTACHMENT = obj({"id": ID, "name": {"type": "string", "minLength": 1, "maxLength": 255},
                  "size": {"type": "integer", "minimum": 0}, "type": {"type": "string", "maxLength": 127}})


class ChannelCreate(TypedDict):
    kind: Literal["public", "private", "direct"]
    name: NotRequired[str]
    members: NotRequired[list[str]]


class ChannelRef(TypedDict):
    channel_id: int


class ChannelJoin(TypedDict):
    channel_id: NotRequired[int]
    name: NotRequired[str]


class ChannelInvite(TypedDict):
    channel_id: int
    user_id: str


class Attachment(TypedDict):
    id: str
    name: str
    size: int
    type: str


class ChatMessage(TypedDict):
    channel_id: int
    text: str
    attachments: NotRequired[list[Attachment]]
    client_msg_id: NotRequired[str]


class History(TypedDict):
    channel_id: int
    before_id: NotRequired[int]
    limit: NotRequired[int]


class Search(TypedDict):
    query: str
    channel_id: NotRequired[int]
    limit: NotRequired[int]


class Typing(TypedDict):
    channel_id: int
    typing: bool


class ReadReceipt(TypedDict):
    channel_id: int
    message_id: int


def topic(channel_id: int) -> Topic:
    return Topic.chat(channel_id)


async def announce(hub: Hub, conn: Conn, status: str, topics: Iterable[Topic] | None = None) -> None:
    """Tell every chat channel this connection follows (or followed: `topics`) that its user is now
    `status` (batched per connection, never per member)."""
    for joined in [t for t in (conn.topics if topics is None else topics) if t.kind is Kind.CHAT]:
        await hub.publish(conn.ns, joined, "presence",
                          {"channel_id": joined.chat_id, "user_id": conn.user_id, "status": status})


def _channel_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "kind": row["kind"], "name": row["name"], "created_by": row["created_by"]}


async def _channel(ctx: Context, channel_id: int) -> dict[str, Any]:
    async with ctx.database().pool.connection() as db, db.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT c.*, m.user_id IS NOT NULL AS is_member FROM hub_channels c "
                          "LEFT JOIN hub_members m ON m.channel_id = c.id AND m.user_id = %s "
                          "WHERE c.id = %s AND c.ns = %s", (ctx.conn.user_id, channel_id, ctx.conn.ns))
        row = await cur.fetchone()
    if row is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, f"no channel {channel_id}")
    return row


async def _readable(ctx: Context, channel_id: int) -> dict[str, Any]:
    row = await _channel(ctx, channel_id)
    if not row["is_member"] and row["kind"] != "public":
        raise ProtocolError(ErrorCode.FORBIDDEN, f"channel {channel_id} is {row['kind']}: members only")
    return row


def _joined(ctx: Context, channel_id: int) -> None:
    if not ctx.joined(topic(channel_id)):
        raise ProtocolError(ErrorCode.FORBIDDEN, f"join channel {channel_id} first (channel_join)")


@feature.message("channel_create", obj({"kind": {"enum": ["public", "private", "direct"]}},
                                       {"name": NAME, "members": {"type": "array", "items": ID, "maxItems": 500}}))
async def channel_create(ctx: Context, content: ChannelCreate) -> Reply:
    me, kind = ctx.conn.user_id, content["kind"]
    others = sorted(set(content.get("members", [])) - {me})
    direct_key = None
    if kind == "direct":
        if len(others) != 1:
            raise ProtocolError(ErrorCode.INVALID_CONTENT, "a direct channel needs exactly one other member")
        direct_key = "|".join(sorted([me, others[0]]))
    name = content.get("name") or (direct_key or f"{kind} channel")
    async with ctx.database().pool.connection() as db, db.transaction(), db.cursor(row_factory=dict_row) as cur:
        await cur.execute("INSERT INTO hub_channels (ns, kind, name, created_by, direct_key) "
                          "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (ns, direct_key) WHERE direct_key IS NOT NULL "
                          "DO UPDATE SET direct_key = EXCLUDED.direct_key RETURNING *",
                          (ctx.conn.ns, kind, name, me, direct_key))
        row = await cur.fetchone()
        assert row is not None
        await cur.executemany("INSERT INTO hub_members (channel_id, user_id, role) VALUES (%s, %s, %s) "
                              "ON CONFLICT DO NOTHING",
                              [(row["id"], me, "owner")] + [(row["id"], u, "member") for u in others])
    channel = _channel_json(row)
    for user in others:
        await ctx.publish(Topic.user(user), "channel_invited", {"channel": channel, "by": me}, durable=True)
    await ctx.hub.subscribe(ctx.conn, topic(row["id"]))
    return {"channel": channel, "members": [me, *others]}


@feature.message("channel_join", obj({}, {"channel_id": INT_ID, "name": NAME}))
async def channel_join(ctx: Context, content: ChannelJoin) -> Reply:
    """By id, or by name: the oldest public channel of that name (else one of the user's own), made as
    a public channel when there is none. One lock per (namespace, name) makes concurrent joins by a
    new name land in one channel."""
    created = False
    if ("channel_id" in content) == ("name" in content):
        raise ProtocolError(ErrorCode.INVALID_CONTENT, "channel_join takes channel_id or name (one of them)")
    if "name" in content:
        cid, created = await _named(ctx, content["name"])
    else:
        cid = content["channel_id"]
    row = await _readable(ctx, cid)
    if not row["is_member"]:
        async with ctx.database().pool.connection() as db:
            await db.execute("INSERT INTO hub_members (channel_id, user_id) VALUES (%s, %s) "
                             "ON CONFLICT DO NOTHING", (cid, ctx.conn.user_id))
    replayed = await ctx.hub.subscribe(ctx.conn, topic(cid))
    await ctx.publish(topic(cid), "presence",
                      {"channel_id": cid, "user_id": ctx.conn.user_id, "status": "online"}, echo=False)
    return {"channel": _channel_json(row), "replayed": replayed, "created": created}


async def _named(ctx: Context, name: str) -> tuple[int, bool]:
    """The id of the channel called `name` that joining by name means, and whether it was made now."""
    me, ns = ctx.conn.user_id, ctx.conn.ns
    async with ctx.database().pool.connection() as db, db.transaction(), db.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"chat-name/{ns}/{name}",))
        await cur.execute("SELECT c.id FROM hub_channels c LEFT JOIN hub_members m ON m.channel_id = c.id "
                          "AND m.user_id = %s WHERE c.ns = %s AND c.name = %s AND c.kind <> 'direct' "
                          "AND (c.kind = 'public' OR m.user_id IS NOT NULL) "
                          "ORDER BY c.kind <> 'public', c.id LIMIT 1", (me, ns, name))
        found = await cur.fetchone()
        if found is not None:
            return int(found["id"]), False
        await cur.execute("INSERT INTO hub_channels (ns, kind, name, created_by) VALUES (%s, 'public', %s, %s) "
                          "RETURNING id", (ns, name, me))
        made = await cur.fetchone()
        assert made is not None
        await cur.execute("INSERT INTO hub_members (channel_id, user_id, role) VALUES (%s, %s, 'owner')",
                          (made["id"], me))
    return int(made["id"]), True


@feature.message("channel_leave", obj({"channel_id": INT_ID}))
async def channel_leave(ctx: Context, content: ChannelRef) -> Reply:
    cid = content["channel_id"]
    row = await _channel(ctx, cid)
    if not row["is_member"]:
        raise ProtocolError(ErrorCode.FORBIDDEN, f"you are not a member of channel {cid}: nothing to leave")
    async with ctx.database().pool.connection() as db:
        await db.execute("DELETE FROM hub_members WHERE channel_id = %s AND user_id = %s", (cid, ctx.conn.user_id))
    await ctx.hub.unsubscribe(ctx.conn, topic(cid))
    return {"channel_id": cid}


@feature.message("channel_invite", obj({"channel_id": INT_ID, "user_id": ID}))
async def channel_invite(ctx: Context, content: ChannelInvite) -> Reply:
    cid, user = content["channel_id"], content["user_id"]
    row = await _channel(ctx, cid)
    if not row["is_member"]:
        raise ProtocolError(ErrorCode.FORBIDDEN, f"only members of channel {cid} can invite")
    if row["kind"] == "direct":
        raise ProtocolError(ErrorCode.FORBIDDEN, "a direct channel cannot get more members")
    async with ctx.database().pool.connection() as db:
        await db.execute("INSERT INTO hub_members (channel_id, user_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                         (cid, user))
    await ctx.publish(Topic.user(user), "channel_invited",
                      {"channel": _channel_json(row), "by": ctx.conn.user_id}, durable=True)
    return {"channel_id": cid, "user_id": user}


@feature.message("channel_list", EMPTY)
async def channel_list(ctx: Context, content: Empty) -> Reply:
    async with ctx.database().pool.connection() as db, db.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT c.*, m.user_id IS NOT NULL AS is_member FROM hub_channels c "
                          "LEFT JOIN hub_members m ON m.channel_id = c.id AND m.user_id = %s "
                          "WHERE c.ns = %s AND (m.user_id IS NOT NULL OR c.kind = 'public') "
                          "ORDER BY c.id LIMIT 500", (ctx.conn.user_id, ctx.conn.ns))
        rows = await cur.fetchall()
    return {"channels": [_channel_json(r) | {"member": r["is_member"]} for r in rows]}


@feature.message("chat_message", obj({"channel_id": INT_ID, "text": TEXT},
                                     {"attachments": {"type": "array", "items": ATTACHMENT, "maxItems": 10},
                                      "client_msg_id": CLIENT_MSG_ID}))
async def chat_message(ctx: Context, content: ChatMessage) -> Reply:
    """Store, then publish. With a `client_msg_id` the row waits as `pending` until its frame is out,
    and a retry with the same id (after `unavailable`, a timeout, a reconnect) finds it: it gets the
    first attempt's answer if that was published, else publishes it now (once: see `_sent`)."""
    cid = content["channel_id"]
    _joined(ctx, cid)
    attachments, client_id = content.get("attachments", []), content.get("client_msg_id")
    async with ctx.database().pool.connection() as db, db.cursor(row_factory=dict_row) as cur:
        await cur.execute("INSERT INTO hub_messages (channel_id, user_id, name, text, attachments, client_msg_id, "
                          "pending) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (channel_id, user_id, "
                          "client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING "
                          "RETURNING id, created_at, name, NULL AS frame_id, pending, "
                          "(SELECT name FROM hub_channels WHERE id = %s) AS channel_name",
                          (cid, ctx.conn.user_id, ctx.conn.name, content["text"], Jsonb(attachments), client_id,
                           client_id is not None, cid))
        row = await cur.fetchone()
        retry = row is None
        if row is None:  # a retry: the first attempt's row
            row = await _first_attempt(cur, cid, ctx.conn.user_id, client_id, content["text"], attachments)
    assert row is not None
    if not row["pending"] and row["frame_id"] is not None:
        return {"message_id": row["id"], "frame_id": row["frame_id"]}
    message = {"message_id": row["id"], "channel_id": cid, "channel_name": row["channel_name"],
               "user_id": ctx.conn.user_id, "name": row["name"], "text": content["text"],
               "attachments": attachments, "created_at": row["created_at"].isoformat()}
    frame_id = await _sent(ctx, cid, row) if retry else None
    if frame_id is None:
        frame_id = await ctx.publish(topic(cid), "chat_message", message, durable=True)
    if client_id is not None:
        async with ctx.database().pool.connection() as db:
            await db.execute("UPDATE hub_messages SET pending = false, frame_id = %s WHERE id = %s",
                             (frame_id, row["id"]))
    return {"message_id": row["id"], "frame_id": frame_id}


async def _first_attempt(cur: Any, cid: int, user_id: str, client_id: str | None, text: str,
                         attachments: list[Attachment]) -> dict[str, Any]:
    await cur.execute("SELECT m.id, m.created_at, m.name, m.frame_id, m.pending, m.text, m.attachments, "
                      "c.name AS channel_name FROM hub_messages m JOIN hub_channels c ON c.id = m.channel_id "
                      "WHERE m.channel_id = %s AND m.user_id = %s AND m.client_msg_id = %s",
                      (cid, user_id, client_id))
    row: dict[str, Any] | None = await cur.fetchone()
    if row is None:  # deleted with its channel in between
        raise ProtocolError(ErrorCode.NOT_FOUND, f"no channel {cid}")
    if row["text"] != text or row["attachments"] != attachments:
        raise ProtocolError(ErrorCode.CONFLICT, f"client_msg_id {client_id!r} was already used for another "
                                                "message: use a new id for a new message")
    return row


async def _sent(ctx: Context, cid: int, row: dict[str, Any]) -> str | None:
    """The frame id of a pending message's frame if an earlier attempt did publish it (Redis ran the
    publish after that attempt had given up on it), found in the channel's stream; else None."""
    if not row["pending"]:
        return None
    since_ms = int(row["created_at"].timestamp() * 1000) - SENT_LOOKBACK_MS
    for text in await ctx.hub.broker.replay(ctx.conn.ns, topic(cid), f"{max(0, since_ms)}-0"):
        frame = protocol.loads(text)
        if frame.get("type") == "chat_message" and frame.get("content", {}).get("message_id") == row["id"]:
            return str(frame["id"])
    return None


@feature.message("history", obj({"channel_id": INT_ID},
                                {"before_id": INT_ID, "limit": {"type": "integer", "minimum": 1, "maximum": 200}}))
async def history(ctx: Context, content: History) -> Reply:
    """Newest first; pass `next_before_id` back as `before_id` for the previous page."""
    cid, limit = content["channel_id"], content.get("limit", 50)
    channel = await _readable(ctx, cid)
    async with ctx.database().pool.connection() as db, db.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT id, user_id, name, text, attachments, created_at FROM hub_messages "
                          "WHERE channel_id = %s AND id < %s AND NOT pending ORDER BY id DESC LIMIT %s",
                          (cid, content.get("before_id", 2**62), limit))
        rows = await cur.fetchall()
    messages = [_message_json(r | {"channel_id": cid, "channel_name": channel["name"]}) for r in rows]
    return {"channel_id": cid, "messages": messages,
            "next_before_id": rows[-1]["id"] if len(rows) == limit else None}


def _message_json(r: dict[str, Any]) -> dict[str, Any]:
    """A stored message in the shape of a live `chat_message` (the sender's name as it was then)."""
    return {"message_id": r["id"], "channel_id": r["channel_id"], "channel_name": r["channel_name"],
            "user_id": r["user_id"], "name": r["name"], "text": r["text"], "attachments": r["attachments"],
            "created_at": r["created_at"].isoformat()}


@feature.message("search", obj({"query": {"type": "string", "minLength": 1, "maxLength": 200}},
                               {"channel_id": INT_ID, "limit": {"type": "integer", "minimum": 1, "maximum": 100}}))
async def search(ctx: Context, content: Search) -> Reply:
    """Full-text search (PostgreSQL websearch syntax) over channels the user may read."""
    args: list[Any] = [ctx.conn.user_id, ctx.conn.ns, content["query"]]
    only = ""
    if "channel_id" in content:
        await _readable(ctx, content["channel_id"])
        only, args = " AND c.id = %s", [*args, content["channel_id"]]
    async with ctx.database().pool.connection() as db, db.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT m.id, m.channel_id, c.name AS channel_name, m.user_id, m.name, m.text, "
                          "m.attachments, m.created_at "
                          "FROM hub_messages m JOIN hub_channels c ON c.id = m.channel_id "
                          "LEFT JOIN hub_members mb ON mb.channel_id = c.id AND mb.user_id = %s "
                          "WHERE c.ns = %s AND (mb.user_id IS NOT NULL OR c.kind = 'public') "
                          "AND NOT m.pending AND m.tsv @@ websearch_to_tsquery('simple', %s)" + only +
                          " ORDER BY m.id DESC LIMIT %s", [*args, content.get("limit", 20)])
        rows = await cur.fetchall()
    return {"query": content["query"], "messages": [_message_json(r) for r in rows]}


@feature.message("typing", obj({"channel_id": INT_ID, "typing": {"type": "boolean"}}))
async def typing(ctx: Context, content: Typing) -> Reply:
    cid = content["channel_id"]
    _joined(ctx, cid)
    await ctx.publish(topic(cid), "typing",
                      {"channel_id": cid, "user_id": ctx.conn.user_id, "typing": content["typing"]},
                      echo=False, priority=0)
    return None


@feature.message("read_receipt", obj({"channel_id": INT_ID, "message_id": INT_ID}))
async def read_receipt(ctx: Context, content: ReadReceipt) -> Reply:
    cid, mid = content["channel_id"], content["message_id"]
    _joined(ctx, cid)
    async with ctx.database().pool.connection() as db:
        await db.execute("UPDATE hub_members SET last_read_id = GREATEST(last_read_id, %s) "
                         "WHERE channel_id = %s AND user_id = %s", (mid, cid, ctx.conn.user_id))
    await ctx.publish(topic(cid), "read_receipt",
                      {"channel_id": cid, "user_id": ctx.conn.user_id, "message_id": mid}, echo=False)
    return {"channel_id": cid, "message_id": mid}


@feature.message("channel_presence", obj({"channel_id": INT_ID}))
async def channel_presence(ctx: Context, content: ChannelRef) -> Reply:
    cid = content["channel_id"]
    await _readable(ctx, cid)
    async with ctx.database().pool.connection() as db, db.cursor() as cur:
        await cur.execute("SELECT user_id, last_read_id FROM hub_members WHERE channel_id = %s "
                          "ORDER BY user_id LIMIT 1000", (cid,))
        rows = await cur.fetchall()
    statuses = await ctx.hub.presence.statuses(ctx.conn.ns, [r[0] for r in rows])
    return {"channel_id": cid, "members": [{"user_id": u, "status": statuses[u], "last_read_id": last}
                                           for u, last in rows]}
