"""Check kinds: one object each in one registry, with its schema, description, judge and where to look."""

from __future__ import annotations

import json

from spotctl.guide import schema
from spotctl.guide.checks import KINDS, Kind
from spotctl.guide.checks.redis import observation
from spotctl.inspect.redis_view import KeyType, KeyView


def test_every_kind_is_complete_and_the_schema_file_is_current() -> None:
    for name, kind in KINDS.items():
        assert isinstance(kind, Kind) and kind.name == name
        assert kind.schema
    assert list(schema.document()["$defs"]["check"]["properties"]) == [*schema.COMMON_CHECK_KEYS, *KINDS]
    assert schema.stored() == schema.document(), "run `python -m spotctl.guide.schema` to refresh the file"


def test_each_kind_describes_and_points_at_a_command_to_look_with() -> None:
    spec = {"key": "song:7", "topic": "song_played", "queue": "q", "id": "1", "sql": "SELECT 1",
            "to": "a@x.org", "user_id": "7", "path": "/api/me", "user": "bob"}
    lines = {name: kind.describe(spec) for name, kind in KINDS.items()}
    assert lines["redis"] == "redis key song:7 exists" and lines["kafka"] == "kafka topic song_played got a record"
    assert lines["job"] == "BullMQ job 1 on queue q is completed" and lines["http"] == "GET /api/me answers 2xx"
    assert KINDS["redis"].look(spec) == "spotctl redis get song:7"
    assert KINDS["kafka"].look(spec) == "spotctl kafka tail song_played -n 5"
    assert KINDS["postgres"].look(spec) is None


def test_a_redis_observation_flattens_what_the_client_read() -> None:
    zset = KeyView("trending:songs", KeyType.zset, -1, 2, [{"member": "7", "score": 3.0},
                                                           {"member": "2", "score": 1.0}], truncated=False)
    assert observation("trending:songs", zset)["value"] == ["7", "2"]
    hashed = KeyView("prefs:1", KeyType.hash, 60, 1, {"locale": "fr"}, truncated=False)
    assert observation("prefs:1", hashed) == {"key": "prefs:1", "exists": True, "type": "hash", "ttl": 60,
                                              "value": ["locale=fr"]}
    assert observation("gone", None) == {"key": "gone", "exists": False, "type": "none", "ttl": -2, "value": None}
    assert KINDS["redis"].judge({"key": "trending:songs", "contains": "7"},
                                observation("trending:songs", zset)).ok
    assert json.dumps(observation("x", None))


def test_redis_judge_checks_existence_ttl_and_json_list_items() -> None:
    spec = {"key": "recent:7", "type": "list", "ttl_max": 60, "contains": {"song_id": "42"}}
    seen = {"exists": True, "type": "list", "ttl": 30, "value": ['{"song_id": 42, "played_at": 1.5}']}
    assert KINDS["redis"].judge(spec, seen).ok
    assert not KINDS["redis"].judge(spec, {**seen, "ttl": -1}).ok  # no TTL at all
    assert "does not hold" in KINDS["redis"].judge(spec, {**seen, "value": ['{"song_id": 41}']}).detail
    wrong_type = KINDS["redis"].judge(spec, {**seen, "type": "zset"})
    assert not wrong_type.ok and wrong_type.final
    assert KINDS["redis"].judge({"key": "gone", "exists": False}, {"exists": False}).ok


def test_kafka_judge_finds_the_matching_record() -> None:
    records = [{"partition": 0, "offset": 5, "value": {"user_id": "1", "song_id": 2}},
               {"partition": 1, "offset": 9, "value": {"user_id": "7", "song_id": 42}}]
    verdict = KINDS["kafka"].judge({"topic": "song_played", "match": {"user_id": 7, "song_id": "42"}}, records)
    assert verdict.ok and verdict.observed["offset"] == 9
    assert not KINDS["kafka"].judge({"topic": "song_played", "match": {"user_id": "8"}}, records).ok


def test_a_failed_job_stops_the_wait_and_says_why() -> None:
    verdict = KINDS["job"].judge({"queue": "q", "id": "1"}, {"state": "failed", "failedReason": "boom"})
    assert not verdict.ok and verdict.final and "boom" in verdict.detail
    assert not KINDS["job"].judge({"queue": "q", "id": "1"}, {"state": "waiting"}).final
    assert KINDS["job"].judge({"queue": "q", "id": "1"}, {"state": "completed", "attemptsMade": 1}).ok


def test_mail_and_http_judges() -> None:
    mails = [{"to": "a@x.org", "rcpt_to": ["a@x.org"], "subject": "Daily report 2026-01-02", "attachments": ["r.html"]}]
    assert KINDS["mail"].judge({"subject_contains": "Daily report", "attachment": "r.html"}, mails).ok
    assert not KINDS["mail"].judge({"to": "b@x.org"}, mails).ok
    assert KINDS["http"].judge({"expect": {"body.cached": True}}, {"status": 200, "body": {"cached": True}}).ok
    assert not KINDS["http"].judge({"expect": {"body.cached": True}}, {"status": 200, "body": {"cached": False}}).ok
    assert not KINDS["http"].judge({}, {"status": 503, "body": {"detail": "redis down"}}).ok


FRAMES = [
    {"type": "presence", "topic": "chat:2", "content": {"user_id": "bob", "status": "online"}},
    {"type": "notification", "content": {"priority": "CRITICAL", "id": "n_1"}},
    {"type": "playlist_update", "content": {"user_id": "bob", "tracks": ["a", "b", "c"]}},
    {"type": "notification", "content": {"priority": "HIGH", "id": "n_2"}},
]


def test_hub_judge_finds_a_frame_by_type_fields_and_list_elements() -> None:
    hub = KINDS["hub"]
    assert hub.judge({"user": "alice", "type": "presence", "match": {"content.user_id": "bob"}}, FRAMES).ok
    assert not hub.judge({"user": "alice", "type": "presence", "match": {"content.user_id": "eve"}}, FRAMES).ok
    assert hub.judge({"user": "alice", "type": "playlist_update", "has": {"content.tracks": ["c", "a"]}}, FRAMES).ok
    missing = hub.judge({"user": "alice", "type": "playlist_update", "has": {"content.tracks": ["z"]}}, FRAMES)
    assert not missing.ok and "4 frame(s) since the action" in missing.detail
    assert hub.describe({"user": "bob", "type": "typing"}) == "bob received a typing frame"
    assert hub.look({"user": "bob"}) == "spotctl hub connect --user bob --raw"


def test_hub_judge_checks_the_order_frames_arrived_in() -> None:
    hub = KINDS["hub"]
    spec = {"user": "carol", "type": "notification", "field": "content.priority", "order": ["CRITICAL", "HIGH"]}
    assert hub.judge(spec, FRAMES).ok
    waiting = hub.judge({**spec, "order": ["CRITICAL", "HIGH", "LOW"]}, FRAMES)
    assert not waiting.ok and not waiting.final  # the third may be on its way
    wrong = hub.judge({**spec, "order": ["HIGH", "CRITICAL"]}, FRAMES)
    assert not wrong.ok and wrong.final and "CRITICAL" in wrong.detail


def test_hub_judge_compares_a_playlist_replica_exactly() -> None:
    hub = KINDS["hub"]
    spec = {"user": "bob", "playlist": "p1", "tracks": ["a", "b"]}
    assert hub.judge(spec, {"tracks": ["a", "b"]}).ok
    assert not hub.judge(spec, {"tracks": ["b", "a"]}).ok
    never = hub.judge(spec, {"tracks": None})
    assert not never.ok and never.final and "has not opened" in never.detail
