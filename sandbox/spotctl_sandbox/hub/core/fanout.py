"""Fan-out of one burst of published frames, decided without sockets: `plan(burst, targets, now)`.

Frames from the bus are drained in bursts, ordered by priority, serialized once into a WebSocket
frame (server frames are unmasked, so the bytes are the same for everyone) and queued per subscriber,
so each connection gets the whole burst in one write. A subscriber whose send buffer has stayed over
the soft limit for the grace period (it is not draining: a burst alone does not count) loses LOW and
NORMAL frames, and one over the hard limit is closed, so a slow reader never holds memory or starves
pings. Pure, like websockets' protocol core: frames and subscribers in, a `Plan` out; the hub writes,
closes and counts. The only state is each subscriber's backlog mark, which the plan keeps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import orjson

from spotctl_sandbox.realtime import protocol
from spotctl_sandbox.realtime.priority import Priority

from .outbox import PriorityOutbox

BURST_MAX_FRAMES, BURST_MAX_BYTES = 1000, 256 * 1024  # one dispatch off the bus; bounds a connection's write
KICK = "_kick"  # a control frame on a user's topic: close that user's connection `conn_id`
NOTIFICATION = "notification"
BATCH = "notification_batch"  # LOW notifications of one user in one frame (node.py)
CONTENT_READ = frozenset({KICK, NOTIFICATION, BATCH})  # the kinds whose content the hub reads


@dataclass(frozen=True, slots=True)
class Published:
    """One frame as it came off the bus, its envelope read once."""

    channel: str
    frame_id: str
    body_json: str
    kind: str
    priority: Priority
    origin: str | None
    server_time: float
    content: Any

    @classmethod
    def decode(cls, channel: str, payload: bytes | str) -> Published:
        """Every worker decodes every frame of its channels: orjson (~4x json here). orjson reads an
        integer beyond 64 bits as a float, so the kinds whose content the hub reads (`CONTENT_READ`)
        are decoded by json; for the others `content` is orjson's reading and never used — clients
        get `body_json`, untouched."""
        frame_id, body_json = protocol.split_payload(payload)
        meta = orjson.loads(body_json)
        if meta["type"] in CONTENT_READ:
            meta = json.loads(body_json)
        return cls(channel, frame_id, body_json, meta["type"], Priority(int(meta.get("priority", Priority.NORMAL))),
                   meta.get("origin"), float(meta["server_time"]), meta["content"])


class Transport(Protocol):
    def get_write_buffer_size(self) -> int:
        """Bytes written but not yet taken by the kernel: how far behind the reader is."""
        ...


class Subscriber(Protocol):
    """What the plan needs to know of a connection (its transport is asked, never written to)."""

    id: str
    closing: bool
    backlogged_since: float  # when its buffer was first seen over the soft limit (0: it is not)

    @property
    def transport(self) -> Transport: ...


S = TypeVar("S", bound=Subscriber)


@dataclass(frozen=True, slots=True)
class Limits:
    soft: int  # bytes buffered above which a reader counts as backlogged
    hard: int  # bytes buffered above which it is closed
    grace_s: float  # backlogged this long: LOW/NORMAL frames are shed


@dataclass(slots=True)
class Plan(Generic[S]):
    writes: dict[S, bytes | list[bytes]] = field(default_factory=dict)  # a frame, or frames in order; one write each
    closes: list[S] = field(default_factory=list)  # slow consumers over the hard limit
    kicks: list[tuple[S, str]] = field(default_factory=list)  # (connection, reason): over the user's cap
    shed: int = 0  # frames not sent to slow consumers
    batched: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # LOW notifications to batch
    fanned: list[tuple[Published, int]] = field(default_factory=list)  # frames written, to how many


def encode_text(text: str) -> bytes:
    """One unmasked, uncompressed text frame (compression is off, so there are no extensions).

    The bytes websockets' `Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])` writes (FIN,
    opcode 1, a 7-, 16- or 64-bit length), built here: its serializer's checks and struct calls were
    ~1.5 µs of every frame the hub writes (tests/hub/test_frame_encoding.py holds the two equal)."""
    data = text.encode()
    size = len(data)
    if size < 126:
        return bytes((0x81, size)) + data
    if size < 65536:
        return b"\x81\x7e" + size.to_bytes(2, "big") + data
    return b"\x81\x7f" + size.to_bytes(8, "big") + data


def admit(sub: Subscriber, buffered: int, priority: Priority, now: float, limits: Limits) -> bool | None:
    """For a subscriber `buffered` bytes behind (over the soft limit): True send, False shed, None close."""
    if buffered > limits.hard:
        return None
    if not sub.backlogged_since:
        sub.backlogged_since = now
    return priority >= Priority.HIGH or now - sub.backlogged_since < limits.grace_s


def plan(burst: Iterable[Published], targets: Mapping[str, Iterable[S]], now: float, limits: Limits) -> Plan[S]:
    """Who gets what of `burst`: highest priority first, FIFO within a priority, the sender's own
    client events left out (`origin`), a LOW notification set aside for batching."""
    outbox: PriorityOutbox[Published] = PriorityOutbox()
    for pub in burst:
        outbox.push(pub.priority, pub)
    out: Plan[S] = Plan()
    writes, soft = out.writes, limits.soft
    closed: set[S] = set()
    for pub in outbox.drain():
        subs = targets.get(pub.channel)
        if not subs:
            continue
        if pub.kind == KICK:
            out.kicks.extend((s, pub.content["reason"]) for s in subs if s.id == pub.content["conn_id"])
            continue
        if pub.kind == NOTIFICATION and pub.priority is Priority.LOW:
            out.batched.append((pub.channel, {"id": pub.frame_id, **pub.content}))
            continue
        data = encode_text(protocol.with_id(pub.frame_id, pub.body_json))
        origin, ready = pub.origin, 0
        for sub in subs:  # the hot loop: one pass per recipient, keep it lean
            if sub.closing or sub.id == origin:
                continue
            buffered = sub.transport.get_write_buffer_size()
            if buffered > soft:
                if not _behind(out, closed, sub, buffered, pub.priority, now, limits):
                    continue
            elif sub.backlogged_since:
                sub.backlogged_since = 0.0
            pending = writes.get(sub)
            if pending is None:
                writes[sub] = data  # most bursts hold one frame per subscriber: no list for it
            elif isinstance(pending, bytes):
                writes[sub] = [pending, data]
            else:
                pending.append(data)
            ready += 1
        out.fanned.append((pub, ready))
    return out


def _behind(out: Plan[S], closed: set[S], sub: S, buffered: int, priority: Priority, now: float,
            limits: Limits) -> bool:
    """A subscriber over the soft limit: True to send it the frame; else it is shed or closed (noted in `out`)."""
    if sub in closed:
        return False
    verdict = admit(sub, buffered, priority, now, limits)
    if verdict is None:
        closed.add(sub)
        out.closes.append(sub)
        return False
    if not verdict:
        out.shed += 1
    return verdict
