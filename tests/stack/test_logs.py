"""`spotctl logs` of several services: one stream in the order the lines say they were written, colour
codes stripped when the output is not a terminal (issue 17, item 7)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from spotctl import output
from spotctl.stack.logs import follow_files, line_time


def test_each_stores_time_format_is_read() -> None:
    utc = dt.datetime(2026, 12, 2, 4, 43, 31, tzinfo=dt.UTC).timestamp()
    local = dt.datetime(2026, 12, 2, 4, 43, 31).timestamp()
    assert line_time("2026-12-02 04:43:31,250 INFO spotctl_sandbox.workers: ready") == local + 0.25
    assert line_time("2026-12-02 04:43:31.5 UTC [19266] LOG:  checkpoint starting") == utc + 0.5
    assert line_time("2026-12-02 04:43:31.877095+00:00 [info] <0.810.0> connection") == pytest.approx(utc + 0.877095)
    assert line_time('{"ts": "2026-12-02T04:43:31.000Z", "level": "INFO", "msg": "x"}') == utc
    assert line_time("18793:M 02 Dec 2026 04:43:31.209 * Ready to accept connections") == pytest.approx(local + 0.209)
    assert line_time('127.0.0.1 - - [02/Dec/2026:04:43:31 +0000] "GET /healthz HTTP/1.1" 200') == utc
    assert line_time("2026/12/02 04:43:31 [info] 19668#19668: *2 client closed") == local
    assert line_time("ready in 19ms") is None


def test_several_logs_are_merged_by_time_and_plain_off_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "api.log").write_text("2026-12-02 04:00:01,000 INFO api: request a\n"
                                      "Traceback (a line without a time)\n"
                                      "2026-12-02 04:00:03,000 INFO api: request c\n")
    (tmp_path / "rabbitmq.log").write_text("2026-12-02 04:00:02.000000+00:00 [info] <0.1.0> b\x1b[0m\n"
                                           "2026-12-02 04:00:04.000000+00:00 [info] <0.1.0> d\x1b[0m\n")
    import time

    monkeypatch.setenv("TZ", "UTC")  # the API's naive times read as UTC, like RabbitMQ's
    time.tzset()
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(output, "_out", None)
    follow_files({"api": str(tmp_path / "api.log"), "rabbitmq": str(tmp_path / "rabbitmq.log")}, 10, False)
    lines = capsys.readouterr().out.splitlines()
    monkeypatch.undo()
    time.tzset()
    assert [line.split(" | ", 1)[1][-1] for line in lines] == ["a", ")", "b", "c", "d"]
    assert lines[2].startswith("rabbitmq | ") and "\x1b" not in "".join(lines)
