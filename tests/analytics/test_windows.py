"""The windowing core on known event streams: exact counts, watermark, late and duplicate events."""

from __future__ import annotations

from spotctl_sandbox.analytics.processing.events import HubActivity, Source, StreamEvent
from spotctl_sandbox.analytics.processing.windows import StreamWindows, Verdict, WindowResult

T0 = 1_800_000_000 - 1_800_000_000 % 3600  # an hour boundary


def play(n: int, ts: float, user: str = "u1", song: str = "s1", artist: str = "a1",
         tenant: str = "default") -> StreamEvent:
    return StreamEvent(Source.SONG_PLAYED, f"e{n}", tenant, ts, user_id=user, song_id=song, artist_id=artist)


def by(results: list[WindowResult], window: str, tenant: str = "default") -> list[WindowResult]:
    return [r for r in results if r.window == window and r.tenant == tenant]


def test_tumbling_minute_counts_plays_songs_artists_and_users_exactly() -> None:
    w = StreamWindows(lateness_s=10)
    events = [play(1, T0 + 1, "u1", "s1", "a1"), play(2, T0 + 20, "u2", "s1", "a1"),
              play(3, T0 + 59, "u1", "s2", "a2"), play(4, T0 + 61, "u3", "s3", "a2")]
    assert [w.ingest(e, now=0) for e in events] == [Verdict.COUNTED] * 4
    assert w.advance(now=0) == []  # watermark T0+51: the first minute is still open
    w.ingest(play(5, T0 + 75, "u1"), now=0)  # watermark T0+65 closes [T0, T0+60)
    first = by(w.advance(now=0), "1m")
    assert len(first) == 1 and (first[0].start, first[0].end) == (T0, T0 + 60)
    assert first[0].values["plays"] == 3 and first[0].values["active_users"] == 2
    assert first[0].songs == {"s1": 2, "s2": 1} and first[0].artists == {"a1": 2, "a2": 1}


def test_sliding_and_longer_windows_merge_the_minutes() -> None:
    w = StreamWindows(lateness_s=0)
    for minute in range(6):  # minute m has m+1 plays by user u<m>
        for i in range(minute + 1):
            w.ingest(play(minute * 10 + i, T0 + minute * 60 + i, f"u{minute}"), now=0)
    w.ingest(play(999, T0 + 6 * 60, "u9"), now=0)  # watermark reaches T0+360
    results = w.advance(now=0)
    assert [r.values["plays"] for r in by(results, "1m")] == [1, 2, 3, 4, 5, 6]
    five = by(results, "5m")
    assert [(r.start, r.values["plays"], r.values["active_users"]) for r in five] == [(T0, 15, 5)]
    sliding = by(results, "5m-sliding")
    assert [(r.end - T0, r.values["plays"]) for r in sliding] == [
        (60, 1), (120, 3), (180, 6), (240, 10), (300, 15), (360, 20)]


def test_out_of_order_within_the_watermark_counts_later_is_late() -> None:
    w = StreamWindows(lateness_s=10)
    w.ingest(play(1, T0 + 30), now=0)
    assert w.ingest(play(2, T0 + 22), now=0) is Verdict.COUNTED   # 8 s out of order: within
    assert w.ingest(play(3, T0 + 19), now=0) is Verdict.LATE      # below the watermark T0+20
    w.ingest(play(4, T0 + 80), now=0)
    minute = by(w.advance(now=0), "1m")[0]
    assert minute.values["plays"] == 2 and minute.values["late"] == 1


def test_duplicate_event_ids_count_once() -> None:
    w = StreamWindows(lateness_s=10)
    assert w.ingest(play(1, T0 + 5), now=0) is Verdict.COUNTED
    assert w.ingest(play(1, T0 + 5), now=0) is Verdict.DUPLICATE
    w.ingest(play(2, T0 + 90), now=0)
    minute = by(w.advance(now=0), "1m")[0]
    assert minute.values["plays"] == 1 and minute.values["duplicates"] == 1


def test_a_quiet_stream_closes_its_window_on_the_wall_clock() -> None:
    w = StreamWindows(lateness_s=10, idle_s=5)
    w.ingest(play(1, T0 + 50), now=1000.0)
    assert w.advance(now=1010.0) == []          # 10 s of silence: watermark T0+45
    closed = by(w.advance(now=1030.0), "1m")    # 30 s: T0+50+25-10 = T0+65
    assert [r.values["plays"] for r in closed] == [1]


def test_tenants_are_counted_apart_and_hub_activity_adds_traffic() -> None:
    w = StreamWindows(lateness_s=0)
    w.ingest(play(1, T0 + 1, tenant="acme"), now=0)
    hub = HubActivity(worker=1, connections=40, messages={"chat": 5, "ping": 3}, deliveries=7, errors=2)
    w.ingest(StreamEvent(Source.HUB_ACTIVITY, "h1", "acme", T0 + 2, hub=hub), now=0)
    w.ingest(StreamEvent(Source.HUB_ACTIVITY, "h2", "acme", T0 + 7,
                         hub=HubActivity(1, 42, {"chat": 1}, 1, 0)), now=0)
    w.ingest(play(2, T0 + 8, tenant="default"), now=0)
    w.ingest(play(3, T0 + 61, tenant="default"), now=0)
    results = w.advance(now=0)
    acme = by(results, "1m", "acme")[0]
    assert acme.values["plays"] == 1 and acme.values["hub_messages"] == 9
    assert acme.values["hub_connections"] == 42 and acme.values["errors"] == 2
    assert acme.hub_types == {"chat": 6, "ping": 3}
    assert acme.values["error_rate"] == 2 / 10
    assert by(results, "1m", "default")[0].values["plays"] == 1


def test_checkpoint_restore_resumes_the_same_counts() -> None:
    w = StreamWindows(lateness_s=10)
    for i in range(5):
        w.ingest(play(i, T0 + i, f"u{i}"), now=0)
    changed, _ = w.take_changes()
    meta = w.meta()
    resumed = StreamWindows(lateness_s=10)
    resumed.restore(meta, changed, now=0)
    assert resumed.ingest(play(3, T0 + 3), now=0) is Verdict.DUPLICATE  # ids survive the restart
    resumed.ingest(play(10, T0 + 80), now=0)
    minute = by(resumed.advance(now=0), "1m")[0]
    assert minute.values["plays"] == 5 and minute.values["active_users"] == 5


def test_old_panes_are_dropped_after_the_longest_window() -> None:
    w = StreamWindows(lateness_s=0)
    w.ingest(play(1, T0), now=0)
    w.ingest(play(2, T0 + 2 * 3600), now=0)
    results = w.advance(now=0)
    assert len(by(results, "1h")) == 1  # the hour with the play; nothing feeds the hour after
    assert (("default", T0) in w.panes) is False
    _, dropped = w.take_changes()
    assert ("default", T0) in dropped


def test_a_partition_read_ahead_does_not_make_the_others_late() -> None:
    w = StreamWindows(lateness_s=10, idle_s=5)
    w.track(["plays:0", "search:0"], now=0)
    w.ingest(play(1, T0 + 500), now=0, partition="plays:0")  # a catch-up fetched plays far ahead
    search = StreamEvent(Source.SEARCH_PERFORMED, "s1", "default", T0 + 20, user_id="u1")
    assert w.ingest(search, now=0, partition="search:0") is Verdict.COUNTED
    assert w.watermark == T0 + 10                            # held by the slower partition
    w.ingest(play(2, T0 + 501), now=4, partition="plays:0")
    w.advance(now=6)                                         # search idle for 6 s: it lets go
    assert w.watermark == T0 + 491


def test_after_idle_windows_of_every_minute_are_emitted_for_an_hour() -> None:
    w = StreamWindows(lateness_s=0)
    w.ingest(play(1, T0), now=0)
    w.ingest(play(2, T0 + 2 * 3600), now=0)
    assert len(by(w.advance(now=0), "1m")) == 60  # the minute with the play and 59 empty ones after it
