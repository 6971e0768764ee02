"""StateManager: checkpoint the window state and the consumer offsets together, recover both.

The real-time processor's counts live in memory; a checkpoint writes the panes that changed, drops
the expired ones and records the next offset of every partition — in one PostgreSQL transaction.
After a restart the processor restores the panes and seeks to those offsets, so every event is
counted exactly once: the ones before the checkpoint are in the panes, the ones after are re-read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from spotctl_sandbox.analytics.processing.windows import StreamWindows

UPSERT_PANE = """
INSERT INTO analytics_state_panes (consumer, tenant, pane_start, data) VALUES (%s, %s, %s, %s)
ON CONFLICT (consumer, tenant, pane_start) DO UPDATE SET data = EXCLUDED.data
"""
DELETE_PANE = "DELETE FROM analytics_state_panes WHERE consumer = %s AND tenant = %s AND pane_start = %s"
UPSERT_STATE = """
INSERT INTO analytics_state (consumer, offsets, meta, updated_at) VALUES (%s, %s, %s, now())
ON CONFLICT (consumer) DO UPDATE SET offsets = EXCLUDED.offsets, meta = EXCLUDED.meta, updated_at = now()
"""


@dataclass(frozen=True)
class Checkpoint:
    offsets: dict[str, int]   # "topic:partition" -> the next offset to read
    meta: dict[str, Any]
    panes: dict[tuple[str, int], dict[str, Any]]
    tails: dict[str, str] = field(default_factory=dict)  # "topic:partition" -> the last record's mark


TAILS = "kafka_tails"  # in the state's meta: a checkpoint without it (older) is read as having none


def tp_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


class StateManager:
    def __init__(self, pool: AsyncConnectionPool, consumer: str) -> None:
        self.pool = pool
        self.consumer = consumer
        self.saved = 0

    async def load(self) -> Checkpoint | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute("SELECT offsets, meta FROM analytics_state WHERE consumer = %s",
                                            (self.consumer,))).fetchone()
            if row is None:
                return None
            cur = await conn.execute("SELECT tenant, pane_start, data FROM analytics_state_panes "
                                     "WHERE consumer = %s", (self.consumer,))
            panes = {(t, int(s)): d for t, s, d in await cur.fetchall()}
        meta = dict(row[1])
        tails = meta.pop(TAILS, None) or {}
        return Checkpoint(offsets={k: int(v) for k, v in row[0].items()}, meta=meta, panes=panes,
                          tails={k: str(v) for k, v in tails.items()})

    async def save(self, windows: StreamWindows, offsets: dict[str, int], tails: dict[str, str] | None = None
                   ) -> None:
        """Persist what changed since the last save plus the offsets it corresponds to, atomically,
        and the marks of the records just before those offsets (`kafka_tails`): a restarted engine
        tells from them whether the log it resumes is still the one it checkpointed.

        The changes are taken from `windows` before any await, so events ingested while the
        transaction runs are left for the next save (their offsets are not in this one either).
        """
        changed, dropped = windows.take_changes()
        meta = windows.meta() | ({TAILS: tails} if tails else {})
        try:
            async with self.pool.connection() as conn, conn.transaction():
                async with conn.cursor() as cur:
                    if changed:
                        await cur.executemany(UPSERT_PANE, [(self.consumer, t, s, Jsonb(d))
                                                            for (t, s), d in changed.items()])
                    if dropped:
                        await cur.executemany(DELETE_PANE, [(self.consumer, t, s) for t, s in dropped])
                    await cur.execute(UPSERT_STATE, (self.consumer, Jsonb(offsets), Jsonb(meta)))
        except BaseException:
            windows.dirty |= set(changed) - set(windows.dropped)  # write them again next time
            windows.dropped |= dropped
            raise
        self.saved += 1

    async def reset(self) -> None:
        """Forget the checkpoint (tests and `--from-scratch` replays)."""
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("DELETE FROM analytics_state_panes WHERE consumer = %s", (self.consumer,))
            await conn.execute("DELETE FROM analytics_state WHERE consumer = %s", (self.consumer,))
