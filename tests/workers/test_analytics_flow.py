"""The Kafka `analytics` group: play counts and user activity grow once per event, redelivery or not."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from tests.workers.conftest import Catalogue, eventually

pytestmark = pytest.mark.stack


async def test_play_counts_and_activity_count_each_event_once(
        env: dict[str, str], catalogue: Catalogue) -> None:
    artist = await catalogue.artist()
    song = await catalogue.song(artist, "Counted")
    user = f"an-{uuid.uuid4().hex[:8]}"
    now = time.time()
    played = {"user_id": user, "song_id": song, "ts": now, "event_id": uuid.uuid4().hex}
    events = [
        ("song_played", played),
        ("song_played", played),  # the same event twice (a producer retry): counted once
        ("song_played", {"user_id": user, "song_id": song, "ts": now + 1}),  # no id: its hash is the id
        ("search_performed", {"user_id": user, "query": "x", "results": 0, "cached": False, "ts": now}),
        ("playlist_created", {"user_id": user, "playlist_id": "p", "name": "n", "song_count": 0, "ts": now}),
        ("song_played", {"user_id": user, "ts": now}),  # malformed: skipped, the consumer goes on
    ]
    producer = AIOKafkaProducer(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    await producer.start()
    for topic, value in events:
        await producer.send_and_wait(topic, json.dumps(value).encode(), key=user.encode())
    await producer.send_and_wait("song_played", json.dumps(events[2][1]).encode(), key=user.encode())  # again
    await producer.stop()

    async def activity() -> tuple[int, int, int] | None:
        row = await (await catalogue.conn.execute(
            "SELECT plays, searches, playlists_created FROM analytics_user_activity WHERE user_id = %s",
            (user,))).fetchone()
        return row if row is not None and row[0] == 2 and row[1] == 1 and row[2] == 1 else None

    # The consumer group's first assignment can take ~25 s on tansu right after the workers start.
    await eventually(activity, 90, "the analytics group to apply the events")
    count = await (await catalogue.conn.execute("SELECT play_count FROM songs WHERE id = %s", (song,))).fetchone()
    assert count == (2,)
    await catalogue.conn.execute("DELETE FROM analytics_user_activity WHERE user_id = %s", (user,))


async def test_history_has_one_row_per_play_whether_the_job_ran_or_not(
        env: dict[str, str], catalogue: Catalogue) -> None:
    user, _ = await catalogue.user()
    artist = await catalogue.artist()
    song, lost = await catalogue.song(artist, "Once"), await catalogue.song(artist, "Job lost")
    ts = time.time()
    await catalogue.conn.execute(  # what the `update_recently_played` job wrote for this play, as it writes it
        "INSERT INTO listening_history (user_id, song_id, played_at) VALUES (%s, %s, %s)",
        (user, song, dt.datetime.fromtimestamp(ts, dt.UTC)))
    producer = AIOKafkaProducer(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    await producer.start()
    await producer.send_and_wait("song_played", json.dumps({"user_id": str(user), "song_id": song, "ts": ts,
                                                            "event_id": uuid.uuid4().hex}).encode())
    await producer.send_and_wait("song_played", json.dumps({"user_id": str(user), "song_id": lost,  # no job ran
                                                            "ts": ts + 1}).encode())
    await producer.stop()

    async def counted() -> bool:
        rows = await (await catalogue.conn.execute("SELECT play_count FROM songs WHERE id = ANY(%s)",
                                                   ([song, lost],))).fetchall()
        return rows == [(1,), (1,)]

    await eventually(counted, 90, "the analytics group to apply the plays")
    rows = await (await catalogue.conn.execute(
        "SELECT song_id, count(*) FROM listening_history WHERE user_id = %s GROUP BY song_id ORDER BY song_id",
        (user,))).fetchall()
    assert rows == [(song, 1), (lost, 1)]  # one row per play, whichever path wrote it
