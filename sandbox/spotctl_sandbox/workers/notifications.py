"""The three consumers of a release on the `notifications` fanout.

- delivery: one BullMQ `push` and one `email` job per follower of the artist (job ids derived from
  the release, so a redelivered message does not notify twice) and a real-time notification
  through the hub to followers who are connected (or pending until they reconnect);
- search indexer: the catalogue's full-text index is a generated column PostgreSQL keeps current,
  so what goes stale is the 5-minute `search:*` result cache: it is dropped so the song is findable
  at once;
- cache invalidation: `song:<id>` (a miss may have been cached before the insert committed) and
  the followers' `recs:<user>`, whose next computation should see the new song.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from redis.asyncio.cluster import RedisCluster

from spotctl_sandbox import contract as names
from spotctl_sandbox.common import logs, redisconn
from spotctl_sandbox.workers.deps import Deps
from spotctl_sandbox.workers.messages import Release
from spotctl_sandbox.workers.rabbit import Handler

log = logging.getLogger(__name__)

FOLLOWERS_SQL = """
SELECT u.id, u.email, u.name FROM follows f JOIN users u ON u.id = f.user_id
WHERE f.artist_id = %s ORDER BY u.id
"""
SONG_SQL = "SELECT title, artist FROM songs WHERE id = %s"
BULK = 500
HUB_GUARD_TTL_S = 24 * 3600
HUB_BATCH = 50


async def _followers(deps: Deps, artist_id: str) -> list[tuple[str, str, str]]:
    if not artist_id.isdigit():
        return []
    async with deps.pg.connection() as conn:
        rows = await (await conn.execute(FOLLOWERS_SQL, (int(artist_id),))).fetchall()
    return [(str(uid), str(email), str(name)) for uid, email, name in rows]


async def _describe(deps: Deps, release: Release) -> tuple[str, str]:
    """Title and artist name, from the message or else from the catalogue."""
    if release.title and release.artist:
        return release.title, release.artist
    row = None
    if release.song_id.isdigit():
        async with deps.pg.connection() as conn:
            row = await (await conn.execute(SONG_SQL, (int(release.song_id),))).fetchone()
    title = release.title or (str(row[0]) if row else f"song {release.song_id}")
    artist = release.artist or (str(row[1]) if row else f"artist {release.artist_id}")
    return title, artist


def release_jobs(release: Release, title: str, artist: str,
                 followers: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """The BullMQ jobs for one release: push first (higher priority), then e-mail."""
    jobs: list[dict[str, Any]] = []
    data = {"song_id": release.song_id, "artist_id": release.artist_id, "title": title, "artist": artist}
    for user_id, email, name in followers:
        base = f"release-{release.song_id}-{user_id}"
        jobs.append({"name": names.JOB_PUSH, "data": {
            "user_id": user_id, "title": f"New from {artist}", "body": title, "kind": "new_release",
            "data": data,
        }, "opts": {**names.job_options(priority=names.PRIORITY_PUSH), "jobId": f"{base}-push"}})
        jobs.append({"name": names.JOB_EMAIL, "data": {
            "to": email, "user_id": user_id, "subject": f"New release: {title} by {artist}",
            "body": f"Hi {name},\n\n{artist} just released \"{title}\". Listen now in the app.\n",
        }, "opts": {**names.job_options(priority=names.PRIORITY_EMAIL), "jobId": f"{base}-email"}})
    return jobs


async def _notify_live(deps: Deps, release: Release, title: str, artist: str, user_ids: list[str]) -> int:
    """Real-time notification through the hub; a Redis guard makes redelivery a no-op per follower."""
    try:
        from spotctl_sandbox.realtime.publish import publish_notification
    except ImportError:
        log.info("delivery: realtime.publish not available; skipping real-time notifications")
        return 0

    async def notify(user_id: str) -> bool:
        guard = f"release:notified:{release.song_id}:{user_id}"
        if not await deps.redis.set(guard, "1", nx=True, ex=HUB_GUARD_TTL_S):
            return False
        try:
            await publish_notification(deps.redis, user_id, title=f"New from {artist}", body=title,
                                       priority="HIGH", kind="new_release",
                                       data={"song_id": release.song_id, "artist_id": release.artist_id})
        except Exception:
            await deps.redis.delete(guard)  # let the retry of this message try again
            raise
        return True

    sent = 0
    for start in range(0, len(user_ids), HUB_BATCH):  # bounded concurrency: big artists have many fans
        sent += sum(await asyncio.gather(*(notify(u) for u in user_ids[start:start + HUB_BATCH])))
    return sent


def delivery_handler(deps: Deps) -> Handler:
    async def on_release(message: AbstractIncomingMessage, channel: AbstractChannel) -> None:
        release = Release.parse(message.body)
        title, artist = await _describe(deps, release)
        followers = await _followers(deps, release.artist_id)
        jobs = [{**job, "data": logs.stamp(job["data"])} for job in release_jobs(release, title, artist, followers)]
        queue = deps.queue(names.Q_NOTIFICATIONS)
        for start in range(0, len(jobs), BULK):
            await redisconn.add_jobs(queue, jobs[start:start + BULK], isinstance(deps.redis, RedisCluster))
        live = await _notify_live(deps, release, title, artist, [f[0] for f in followers])
        log.info("delivery: song %s by artist %s -> %d followers, %d jobs, %d real-time", release.song_id,
                 release.artist_id, len(followers), len(jobs), live)

    return on_release


async def _unlink_matching(deps: Deps, pattern: str) -> int:
    removed = 0
    batch: list[str] = []
    async for key in deps.redis.scan_iter(match=pattern, count=500):
        batch.append(key)
        if len(batch) >= 500:
            removed += await deps.redis.unlink(*batch)
            batch.clear()
    if batch:
        removed += await deps.redis.unlink(*batch)
    return removed


def search_indexer_handler(deps: Deps) -> Handler:
    async def on_release(message: AbstractIncomingMessage, channel: AbstractChannel) -> None:
        release = Release.parse(message.body)
        removed = await _unlink_matching(deps, "search:*")
        log.info("search-indexer: song %s released, dropped %d cached search results", release.song_id, removed)

    return on_release


def cache_invalidation_handler(deps: Deps) -> Handler:
    async def on_release(message: AbstractIncomingMessage, channel: AbstractChannel) -> None:
        release = Release.parse(message.body)
        followers = await _followers(deps, release.artist_id)
        keys = [names.song_key(release.song_id), *(names.recs_key(uid) for uid, _, _ in followers)]
        removed = await deps.redis.unlink(*keys)
        log.info("cache-invalidation: song %s -> %d keys dropped", release.song_id, removed)

    return on_release
