"""The co-occurrence recommender: listeners who share songs lead to each other's other songs."""

import pytest

from spotctl_sandbox.workers.recommender import Play, recommend


def plays(*rows: tuple[str, str]) -> list[Play]:
    return [Play(user, song) for user, song in rows]


HISTORY = plays(
    ("alice", "s1"), ("alice", "s2"),
    ("bob", "s1"), ("bob", "s2"), ("bob", "s3"),
    ("carol", "s1"), ("carol", "s3"), ("carol", "s4"),
    ("dave", "s9"), ("dave", "s9"), ("erin", "s9"),
)


def test_songs_played_by_similar_listeners_come_first() -> None:
    rec = recommend("alice", HISTORY, limit=3)
    assert rec.song_ids[:2] == ("s3", "s4")  # s3 shares two listeners with alice's songs, s4 one
    assert rec.scores[0] > rec.scores[1] > 0
    assert rec.method == "mixed"  # the third slot is popularity fill (s9)
    assert rec.song_ids[2] == "s9" and rec.scores[2] == 0.0


def test_known_songs_are_never_recommended() -> None:
    rec = recommend("bob", HISTORY, limit=10)
    assert not {"s1", "s2", "s3"} & set(rec.song_ids)


def test_new_user_gets_the_most_played_songs() -> None:
    rec = recommend("newcomer", HISTORY, limit=2)
    assert rec.method == "popular"
    assert rec.song_ids == ("s1", "s9")  # 3 plays each; ties break on id


def test_pure_co_occurrence_when_enough_candidates() -> None:
    rec = recommend("carol", HISTORY, limit=1)
    assert rec.song_ids == ("s2",) and rec.method == "co-occurrence"


def test_no_history_at_all_gives_an_empty_answer() -> None:
    rec = recommend("alice", [], limit=5)
    assert rec.song_ids == () and rec.scores == ()


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        recommend("alice", HISTORY, limit=0)


def test_catalogue_popularity_fills_when_history_is_thin() -> None:
    rec = recommend("newcomer", [], limit=3, popular=["s5", "s6", "s5", "s7", "s8"])
    assert rec.song_ids == ("s5", "s6", "s7") and rec.method == "popular"


def test_catalogue_fill_skips_known_and_already_picked_songs() -> None:
    rec = recommend("alice", HISTORY, limit=5, popular=["s1", "s3", "s42"])
    assert rec.song_ids == ("s3", "s4", "s9", "s42")
