"""The transactional outbox: a write's events are rows of the write's own transaction.

A route that stores a row and must tell Kafka, RabbitMQ or BullMQ about it does not publish: it
`emit`s, which adds the message to the `outbox` table in the same PostgreSQL transaction as the
row (spotctl_sandbox.db.unit). Either both commit or neither does, so a refused write leaves no
event behind and an acknowledged one never loses its event, whatever broker is down at the time.
A relay (spotctl_sandbox.api.relay) publishes the rows and deletes them once the broker has them:
at least once, so every message carries an id consumers de-duplicate on (Kafka `event_id`, AMQP
`message_id`, BullMQ job id).

Rows: id (publication order), message_id, channel (kafka | rabbitmq | bullmq), target (topic,
exchange or queue), name (job name), routing (Kafka key or AMQP routing key), payload (jsonb),
options (BullMQ job options), attempts, last_error, created_at.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from spotctl_sandbox.common import logs
from spotctl_sandbox.db import unit

__all__ = ["Channel", "Message", "Row", "backlog", "emit", "failed", "job", "kafka_event", "pending", "published",
           "rabbit_message", "store", "take"]


class Channel(StrEnum):
    KAFKA = "kafka"
    RABBITMQ = "rabbitmq"
    BULLMQ = "bullmq"


def new_id() -> str:
    ident = uuid.uuid4().hex
    return ident if not ident.isdigit() else "e" + ident[1:]  # BullMQ refuses numeric custom job ids


@dataclass(frozen=True)
class Message:
    channel: Channel
    target: str  # topic, exchange or queue
    payload: dict[str, Any]
    routing: str | None = None  # Kafka key, AMQP routing key
    name: str | None = None  # BullMQ job name
    options: dict[str, Any] = field(default_factory=dict)  # BullMQ job options
    id: str = field(default_factory=new_id)


# Each factory stamps the payload with the request's correlation id now (common/logs.py): the relay
# publishes later, outside the request, and carries the id on from the payload.

def kafka_event(topic: str, payload: dict[str, Any], key: str | None = None) -> Message:
    """An event with its `event_id` (= the message id) and `ts` set now, as consumers expect."""
    ident = new_id()
    return Message(Channel.KAFKA, topic, {**logs.stamp(payload), "ts": payload.get("ts", time.time()),
                                          "event_id": ident}, routing=key, id=ident)


def rabbit_message(exchange: str, body: dict[str, Any], routing_key: str = "") -> Message:
    return Message(Channel.RABBITMQ, exchange, logs.stamp(body), routing=routing_key)


def job(queue: str, name: str, data: dict[str, Any], options: dict[str, Any]) -> Message:
    """A BullMQ job whose id is the message id: adding it twice adds it once."""
    return Message(Channel.BULLMQ, queue, logs.stamp(data), name=name, options=options)


INSERT = ("INSERT INTO outbox (message_id, channel, target, name, routing, payload, options) "
          "VALUES (%s, %s, %s, %s, %s, %s, %s)")


async def store(conn: psycopg.AsyncConnection[Any], messages: list[Message]) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(INSERT, [(m.id, m.channel.value, m.target, m.name, m.routing, Jsonb(m.payload),
                                        Jsonb(m.options)) for m in messages])


def emit(*messages: Message) -> None:
    """Add messages to the current unit of work's transaction (raises outside one: a programming error)."""
    open_unit = unit.current()
    if open_unit is None:
        raise RuntimeError("outbox.emit needs a unit of work (spotctl_sandbox.db.unit.unit)")
    queued = pending(open_unit)
    if not queued:
        open_unit.before_commit(lambda conn: store(conn, queued))
    queued.extend(messages)


def pending(open_unit: unit.Unit) -> list[Message]:
    """The messages a unit will store when it commits (the list `emit` fills)."""
    found: list[Message] = open_unit.state.setdefault("outbox", [])
    return found


# --- the relay's side ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    id: int
    message: Message
    attempts: int


TAKE = ("SELECT id, message_id, channel, target, name, routing, payload, options, attempts FROM outbox "
        "WHERE channel = ANY(%s) ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED")


async def take(conn: psycopg.AsyncConnection[Any], limit: int, channels: list[str]) -> list[Row]:
    """The oldest rows of these channels no other relay holds, locked until the transaction ends."""
    cur = await conn.execute(TAKE, (channels, limit))
    return [Row(r[0], Message(Channel(r[2]), r[3], r[6], routing=r[5], name=r[4], options=r[7] or {}, id=r[1]),
                r[8]) for r in await cur.fetchall()]


async def published(conn: psycopg.AsyncConnection[Any], ids: list[int]) -> None:
    if ids:
        await conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", (ids,))


async def failed(conn: psycopg.AsyncConnection[Any], ids: list[int], error: str) -> None:
    if ids:
        await conn.execute("UPDATE outbox SET attempts = attempts + 1, last_error = %s WHERE id = ANY(%s)",
                           (error[:500], ids))


async def backlog(conn: psycopg.AsyncConnection[Any]) -> tuple[int, float]:
    """(rows waiting, age of the oldest in seconds)."""
    cur = await conn.execute("SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) "
                             "FROM outbox")
    row = await cur.fetchone()
    return (0, 0.0) if row is None else (int(row[0]), float(row[1]))
