"""`Idempotency-Key` on the API's writes: a retry gets the first answer back, never a second write.

    Idempotency-Key: <1-200 visible ASCII characters; a UUID per operation is the usual choice>

`idempotency_keys` maps (scope, key) to the request's fingerprint and the answer it got; the record
is written in the same transaction as the write itself (spotctl_sandbox.db.unit), so it exists
exactly when the write does. Scope is the caller's user id (`anonymous` for registering).

- no record: the write runs (the first attempt failed and left nothing, or this is the first);
- a record for the same request: its answer again, with `Idempotent-Replayed: true`, nothing written;
- a record for another request (method, path, query or body differ): 422 naming the header.

Two attempts at once are serialised by the primary key: the second one's insert waits for the first
transaction, then finds its record; the second write is rolled back and the first answer returned.
Only successful answers are recorded (an error leaves nothing behind: running it again is safe).
Records are kept 24 h (the relay deletes older ones).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

import psycopg

HEADER = "Idempotency-Key"
KEEP_HOURS = 24
_KEY = re.compile(r"[\x21-\x7e]{1,200}")


class BadKey(ValueError):
    """The header's value cannot be a key; the message says why."""


def parse_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not _KEY.fullmatch(value):
        raise BadKey(f"must be 1 to 200 visible ASCII characters (a UUID, say); got {len(value)} characters")
    return value


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests the same request: method, path, query and body (JSON compared by value,
    so a client that re-serialises the same object in another key order is still the same)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode() if body else b""
    except ValueError:
        canonical = body
    digest = hashlib.sha256(f"{method} {path}?{query}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status: int
    body: str


class Verdict(Enum):
    FRESH = "fresh"  # run the write
    REPLAY = "replay"  # answer what was stored
    MISMATCH = "mismatch"  # the key was used for another request


def judge(stored: Stored | None, request_fingerprint: str) -> Verdict:
    if stored is None:
        return Verdict.FRESH
    return Verdict.REPLAY if stored.fingerprint == request_fingerprint else Verdict.MISMATCH


def mismatch_reason(key: str) -> str:
    return (f"header.{HEADER}: {key!r} was already used for a different request (another method, path or "
            "body); use a new key for a new operation")


# --- storage ------------------------------------------------------------------------------------

async def lookup(conn: psycopg.AsyncConnection[Any], scope: str, key: str) -> Stored | None:
    cur = await conn.execute("SELECT fingerprint, status, body FROM idempotency_keys WHERE scope = %s AND key = %s",
                             (scope, key))
    row = await cur.fetchone()
    return None if row is None else Stored(row[0], int(row[1]), row[2])


async def remember(conn: psycopg.AsyncConnection[Any], scope: str, key: str, stored: Stored) -> bool:
    """Record the answer; False if another attempt with this key committed first (waits for it)."""
    cur = await conn.execute(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, status, body) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT DO NOTHING", (scope, key, stored.fingerprint, stored.status, stored.body))
    return cur.rowcount == 1


async def forget_old(conn: psycopg.AsyncConnection[Any]) -> int:
    cur = await conn.execute("DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => %s)",
                             (KEEP_HOURS,))
    return cur.rowcount
