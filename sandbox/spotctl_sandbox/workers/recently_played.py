"""BullMQ `update_recently_played`: the play lands in `recent:<user>` and in listening_history.

Both writes are idempotent, so a retried job (after a store outage) leaves the same state: the
Redis list moves the song to the front instead of adding it twice, and the history row is unique
on (user, song, played_at).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import bullmq
import psycopg
from bullmq import UnrecoverableError

from spotctl_sandbox.workers import names
from spotctl_sandbox.workers.bull import Processor
from spotctl_sandbox.workers.deps import Deps
from spotctl_sandbox.workers.messages import PlayJob


async def record_play(deps: Deps, play: PlayJob) -> bool:
    """Insert the listening_history row; False when it was already there."""
    played_at = dt.datetime.fromtimestamp(play.played_at, dt.UTC)
    try:
        async with deps.pg.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO listening_history (user_id, song_id, played_at) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING", (int(play.user_id), int(play.song_id), played_at))
    except (psycopg.errors.ForeignKeyViolation, ValueError) as exc:
        raise UnrecoverableError(f"unknown user {play.user_id} or song {play.song_id}: {exc}") from exc
    return cur.rowcount == 1


async def update_recent(deps: Deps, play: PlayJob) -> int:
    """Move the song to the front of the user's recent list, capped at RECENT_MAX; return its length."""
    key = names.recent_key(play.user_id)
    async with deps.redis.pipeline(transaction=True) as pipe:
        pipe.lrem(key, 0, play.song_id)
        pipe.lpush(key, play.song_id)
        pipe.ltrim(key, 0, names.RECENT_MAX - 1)
        pipe.llen(key)
        results = await pipe.execute()
    return int(results[-1])


def processor(deps: Deps) -> Processor:
    async def update_recently_played(job: bullmq.Job) -> dict[str, Any]:
        play = PlayJob.parse(job.data)
        inserted = await record_play(deps, play)
        await job.updateProgress(50)
        length = await update_recent(deps, play)
        await job.updateProgress(100)
        return {"user_id": play.user_id, "song_id": play.song_id, "history_row_added": inserted,
                "recent_length": length}

    return update_recently_played
