"""The Kafka `analytics` group: play counts and user activity grow once per event, redelivery or not."""

from __future__ import annotations

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
