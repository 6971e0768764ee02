"""BullMQ `update_recently_played`: the play lands in `recent:<user>` and in listening_history.

Jobs run concurrently and may be retried, so the list is rebuilt from a sorted set of each song's
latest play (`recent-at:<user>`) in one Lua script: order follows play time, not job completion, a
song appears once, and replaying an old play changes nothing.  The history row is unique on
(user, song, played_at).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import bullmq
import psycopg
from bullmq import UnrecoverableError

from spotctl_sandbox import contract as names
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


# KEYS: recent list, its sorted set; ARGV: song id, played_at, cap.  Items: {"song_id", "played_at"}.
RECENT_LUA = """
local changed = redis.call('ZADD', KEYS[2], 'GT', 'CH', ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[3]) + 1))
if changed == 0 and redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('LLEN', KEYS[1]) end
local items = redis.call('ZREVRANGE', KEYS[2], 0, -1, 'WITHSCORES')
redis.call('DEL', KEYS[1])
for i = 1, #items, 2 do
  local id = tonumber(items[i]) or items[i]
  redis.call('RPUSH', KEYS[1], cjson.encode({song_id = id, played_at = tonumber(items[i + 1])}))
end
return #items / 2
"""


async def update_recent(deps: Deps, play: PlayJob) -> int:
    """Put the play in the user's recent list (newest first, capped at RECENT_MAX); return its length."""
    keys = [names.recent_key(play.user_id), names.recent_at_key(play.user_id)]
    length = await deps.redis.eval(RECENT_LUA, 2, *keys, play.song_id, repr(play.played_at), names.RECENT_MAX)
    return int(length)


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
