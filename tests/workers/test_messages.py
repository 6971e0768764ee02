"""Parsing what arrives on queues: clear reasons for bad input, lenient where producers differ."""

import pytest

from spotctl_sandbox.workers.dlq import MalformedMessage
from spotctl_sandbox.workers.messages import EmailJob, PlayEvent, PlayJob, RecommendationRequest, Release


def test_play_job_takes_the_api_shape() -> None:
    play = PlayJob.parse({"user_id": "7", "song_id": 42, "ts": 1700000000.5})
    assert (play.user_id, play.song_id, play.played_at) == ("7", "42", 1700000000.5)


@pytest.mark.parametrize(("raw", "reason"), [
    (b"\x00garbage", "not JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"song_id": 1, "artist_id": true}', "'artist_id' is missing or not an id"),
    (b'{"type": "remix", "song_id": 1, "artist_id": 2}', "unknown notification type"),
])
def test_release_rejects_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        Release.parse(raw)


def test_release_accepts_the_api_message() -> None:
    release = Release.parse(b'{"type": "release", "song_id": 5, "artist_id": 9, "title": "T", "ts": 1.0}')
    assert (release.song_id, release.artist_id, release.title, release.artist) == ("5", "9", "T", None)


def test_recommendation_request_from_routing_key_or_body() -> None:
    assert RecommendationRequest.parse(b"", "user.12") == RecommendationRequest("12", 10)
    assert RecommendationRequest.parse(b'{"user_id": "12", "ts": 1}', "user.12").user_id == "12"
    with pytest.raises(MalformedMessage, match="limit"):
        RecommendationRequest.parse(b'{"limit": 1000}', "user.12")
    with pytest.raises(MalformedMessage, match="routing key"):
        RecommendationRequest.parse(b"{}", "songs.12")


def test_email_job_needs_an_address() -> None:
    with pytest.raises(MalformedMessage, match="not an e-mail address"):
        EmailJob.parse({"to": "nobody", "subject": "s"})


def test_play_event_needs_a_timestamp() -> None:
    with pytest.raises(MalformedMessage, match="'ts'"):
        PlayEvent.parse(b'{"user_id": 1, "song_id": 2}')
    with pytest.raises(MalformedMessage, match="epoch seconds"):
        PlayEvent.parse(b'{"user_id": 1, "song_id": 2, "ts": "now"}')


@pytest.mark.parametrize(("raw", "reason"), [
    (b'{"user_id": "7", "song_id": 1, "ts": NaN}', "'ts' must be a finite number"),
    (b'{"user_id": "7", "song_id": 1, "meta": {"gain": Infinity}}', "'meta.gain' must be a finite number"),
    (b'{"user_id": "7", "song_id": 1, "ts": 1e999}', "'ts' must be a finite number"),
    (b'{"user_id": "7\\u0000", "song_id": 1}', "'user_id' must not contain NUL"),
    ({"user_id": "7", "song_id": 1, "ts": float("nan")}, "'ts' must be a finite number"),  # BullMQ's decoded data
])
def test_payloads_with_non_finite_numbers_or_nul_are_malformed(raw: object, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        PlayJob.parse(raw)
    if isinstance(raw, bytes):
        with pytest.raises(MalformedMessage, match=reason):
            PlayEvent.parse(raw)
