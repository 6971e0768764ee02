"""Topics and the Redis names built from them: one type builds and parses them all."""

from __future__ import annotations

import pytest

from spotctl_sandbox.realtime import keys
from spotctl_sandbox.realtime.topics import Kind, Topic


def test_a_topic_round_trips_through_its_text_and_its_channel() -> None:
    for topic in (Topic.user("42"), Topic.room("a:b@c"), Topic.chat(7), Topic.session("s1"), Topic.playlist("p")):
        assert Topic.parse(str(topic)) == topic
        assert keys.parse_channel(keys.channel("ns1", topic)) == ("ns1", topic)
    assert str(Topic.room("lobby")) == "room:lobby" and Topic.chat(12).chat_id == 12
    assert keys.stream("t", Topic.chat(3)) == "hub:t:s:{chat:3}"  # a topic's keys share a hash tag


@pytest.mark.parametrize(("text", "says"), [
    ("lobby", "is not a topic"), ("dm:1", "is not a topic"), ("room:", "is not a room key"),
    ("room:a b", "is not a room key"), ("chat:x", "chat:<number>"), ("room:" + "x" * 129, "is not a room key"),
])
def test_a_bad_topic_says_what_a_topic_looks_like(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        Topic.parse(text)


def test_a_chat_id_belongs_to_chat_topics_only() -> None:
    with pytest.raises(ValueError, match="not a chat channel"):
        _ = Topic(Kind.ROOM, "1").chat_id
    with pytest.raises(ValueError, match="not a hub topic channel"):
        keys.parse_channel("bull:notifications:id")
