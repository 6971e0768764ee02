"""The daily report: aggregation of one UTC day of events and its HTML page."""

import datetime as dt
from pathlib import Path

import pytest

from spotctl_sandbox.workers.daily_report import report_day
from spotctl_sandbox.workers.dlq import MalformedMessage
from spotctl_sandbox.workers.report import Event, aggregate, day_bounds
from spotctl_sandbox.workers.report_page import growth_text, render, report_filename, write

DAY = dt.date(2026, 11, 24)
START, END = day_bounds(DAY)


def played(song: str, user: str, at: float, event_id: str | None = None) -> Event:
    value: dict[str, object] = {"song_id": song, "user_id": user, "ts": at}
    if event_id:
        value["event_id"] = event_id
    return Event("song_played", value)


EVENTS = [
    played("7", "u1", START + 10, "e1"),
    played("7", "u1", START + 10, "e1"),  # redelivered: counted once
    played("7", "u2", START + 3600 * 5),
    played("8", "u2", START + 3600 * 5 + 1),
    played("9", "u3", START - 1),  # the day before
    played("9", "u3", END),  # the day after
    Event("search_performed", {"query": " Bohemian ", "ts": START + 5}),
    Event("search_performed", {"query": "bohemian", "ts": START + 6}),
    Event("playlist_created", {"playlist_id": "p", "ts": START + 7}),
    Event("user_registered", {"user_id": "u4", "ts": START + 8}),
    Event("user_registered", {"user_id": "u5", "ts": "yesterday"}),  # unusable timestamp
]


def test_aggregate_counts_one_day() -> None:
    r = aggregate(DAY, EVENTS)
    assert (r.plays, r.listeners, r.searches, r.playlists_created, r.new_users) == (3, 2, 2, 1, 1)
    assert r.top_songs == (("7", 2), ("8", 1))
    assert r.top_queries == (("bohemian", 2),)
    assert r.plays_by_hour[0] == 1 and r.plays_by_hour[5] == 2 and r.busiest_hour == 5
    assert r.skipped == 4


def test_empty_day() -> None:
    r = aggregate(DAY, [])
    assert r.plays == 0 and r.busiest_hour is None and r.top_songs == ()


def test_growth_text() -> None:
    assert growth_text(3, 200) == "+3 (+1.5%)"
    assert growth_text(2, 0) == "+2 (first users)"
    assert growth_text(2, None) == "+2"


def test_page_escapes_user_text_and_is_written_atomically(tmp_path: Path) -> None:
    r = aggregate(DAY, [*EVENTS, Event("search_performed", {"query": "<script>", "ts": START + 9})])
    html = render(r, titles={"7": "Song <7>"}, events_read=len(EVENTS), users_before=10,
                  generated_at=dt.datetime(2026, 11, 25, 2, tzinfo=dt.UTC))
    assert "Song &lt;7&gt;" in html and "&lt;script&gt;" in html and "<script>" not in html
    assert '<td id="plays">3</td>' in html and "+1 (+10.0%)" in html
    path = write(tmp_path / "reports", r, html)
    assert path.name == report_filename(DAY) == "daily-2026-11-24.html"
    assert path.read_text() == html and not list(path.parent.glob("*.tmp"))


def test_report_day_defaults_to_yesterday_utc() -> None:
    now = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
    assert report_day({}, now) == dt.date(2026, 11, 24)  # the scheduled job carries no day
    assert report_day({"day": "2026-01-31"}, now) == dt.date(2026, 1, 31)
    with pytest.raises(MalformedMessage, match="YYYY-MM-DD"):
        report_day({"day": "31/01/2026"}, now)
