"""Structured logs (the JSON line contract, the correlation id's scope and stamping) and how
`spotctl logs --json` and `spotctl trace` read them back. Pure: no stack."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest

from spotctl.inspect.log_view import merged, parse, trace, when
from spotctl_sandbox.common import logs


def record_line(cid: str | None, msg: str = "played %s", arg: str = "song 7") -> dict[str, object]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter("api"))
    logger = logging.getLogger(f"test.logs.{cid}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    with logs.bound(cid):
        logger.info(msg, arg, extra={"fields": {"status": 200}})
    logger.removeHandler(handler)
    return dict(json.loads(stream.getvalue()))


def test_a_log_line_is_one_json_object_with_the_contract_fields() -> None:
    line = record_line("req-1")
    assert {k: line[k] for k in ("level", "service", "msg", "correlation_id", "status")} == {
        "level": "INFO", "service": "api", "msg": "played song 7", "correlation_id": "req-1", "status": 200}
    assert str(line["ts"]).endswith("Z") and when(line["ts"]) is not None
    assert record_line(None)["correlation_id"] is None


def test_the_id_is_scoped_to_its_block_and_stamped_only_where_missing() -> None:
    assert logs.current() is None
    with logs.bound("outer"):
        with logs.bound("inner"):
            assert logs.stamp({"song_id": 1}) == {"song_id": 1, "correlation_id": "inner"}
        assert logs.current() == "outer"
        assert logs.stamp({"correlation_id": "kept"})["correlation_id"] == "kept"
        assert logs.kafka_headers() == [("correlation_id", b"outer")]
    assert logs.stamp({"a": 1}) == {"a": 1} and logs.kafka_headers() == []


def test_an_id_from_outside_must_be_a_short_token() -> None:
    assert logs.valid("0a1b-2c:3.d_4") == "0a1b-2c:3.d_4"
    for bad in ("", "has space", 'quote"', "x" * 129, "line\nbreak", 42, None):
        assert logs.valid(bad) is None
    with logs.bound("two words"):
        assert logs.current() is None
    assert logs.of({"correlation_id": "abc"}) == "abc" and logs.of(["not", "a", "dict"]) is None


def test_json_and_text_lines_parse_to_one_shape() -> None:
    api = parse("api", json.dumps({"ts": "2026-12-02T10:00:00.250Z", "level": "INFO", "service": "api",
                                   "msg": "POST /api/songs/1/play -> 200", "correlation_id": "c1", "ms": 50.0}))
    assert (api.service, api.correlation_id, api.started) == ("api", "c1", when("2026-12-02T10:00:00.200Z"))
    gateway = parse("gateway", '{"ts":1796205600.300,"level":"INFO","service":"gateway","msg":"POST -> 200",'
                               '"correlation_id":"c1","request_s":0.150}')
    assert gateway.started is not None and abs(gateway.started - 1796205600.150) < 1e-6
    postgres = parse("postgres", "2026-12-02 10:00:01.000 UTC [11117] LOG:  database system is ready")
    assert postgres.ts == when("2026-12-02T10:00:01Z") and postgres.correlation_id is None
    assert parse("redis", "no time here").ts is None
    assert when("2026-12-02T11:00:00+01:00") == when("2026-12-02T10:00:00Z")


def test_merged_logs_keep_time_order_and_untimed_lines_follow_their_neighbour() -> None:
    lines = merged({
        "api": ['{"ts": "2026-12-02T10:00:02Z", "msg": "second"}', "a traceback line without a time"],
        "workers": ['{"ts": "2026-12-02T10:00:01Z", "msg": "first"}', '{"ts": "2026-12-02T10:00:03Z", "msg": "third"}'],
    })
    assert [line.msg for line in lines] == ["first", "second", "a traceback line without a time", "third"]


def test_a_trace_is_one_ids_lines_in_the_order_their_work_began() -> None:
    lines = [parse("workers", '{"ts": "2026-12-02T10:00:00.300Z", "msg": "job done", "correlation_id": "c1"}'),
             parse("api", '{"ts": "2026-12-02T10:00:00.250Z", "msg": "request", "correlation_id": "c1", "ms": 100}'),
             parse("gateway", '{"ts": 1796205600.26, "msg": "request", "correlation_id": "c1", "request_s": 0.2}'),
             parse("api", '{"ts": "2026-12-02T10:00:00.100Z", "msg": "other request", "correlation_id": "c2"}')]
    assert [line.service for line in trace(lines, "c1")] == ["gateway", "api", "workers"]


def test_the_gateway_comes_before_the_api_it_called_within_the_same_millisecond() -> None:
    """The lines of a run where test_tracing failed under load: both written in the same millisecond, the
    API's `ts` cut to it (its end was later within it), so ts - ms put the API 0.3 ms before the gateway.
    The API's `began` says when it really began: after the gateway."""
    gateway = parse("gateway", '{"ts":1796293433.578,"msg":"POST /api/songs/1000003/play -> 200",'
                               '"correlation_id":"c1","request_s":0.015}')
    api = {"ts": "2026-12-03T10:23:53.578Z", "msg": "POST /api/songs/1000003/play -> 200 in 15.3 ms",
           "correlation_id": "c1", "ms": 15.3}
    assert [line.service for line in trace([parse("api", json.dumps(api)), gateway], "c1")] == ["api", "gateway"]
    began = parse("api", json.dumps({**api, "began": 1796293433.563401}))
    assert [line.service for line in trace([began, gateway], "c1")] == ["gateway", "api"]


async def test_the_api_access_line_says_when_its_request_began() -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from spotctl_sandbox.api.correlation import Correlation

    async def play(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter("api"))
    access = logging.getLogger("spotctl_sandbox.api.access")
    level = access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        before = time.time()
        app = Correlation(Starlette(routes=[Route("/play", play, methods=["POST"])]))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            assert (await client.post("/play")).status_code == 200
        after = time.time()
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    line = parse("api", stream.getvalue().splitlines()[-1])
    assert line.msg.startswith("POST /play -> 200") and before <= line.extra["began"] <= after
    assert line.started == line.extra["began"]


def test_people_read_json_lines_as_time_level_message_and_id() -> None:
    from spotctl.inspect.log_view import readable

    line = json.dumps({"ts": "2026-12-02T10:00:00.123Z", "level": "WARNING", "service": "workers",
                       "msg": "job failed", "correlation_id": "c9", "exc": "Traceback ...\nValueError: x"})
    assert readable(line) == "10:00:00.123 WARNING job failed  [c9]\nTraceback ...\nValueError: x"
    assert readable("2026-12-02 10:00:00 UTC [11] LOG:  ready") == "2026-12-02 10:00:00 UTC [11] LOG:  ready"


def test_a_token_in_an_exception_is_redacted_in_the_json_line() -> None:
    from spotctl_sandbox.common.logredact import RedactTokens

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter("api"))
    handler.addFilter(RedactTokens())
    logger = logging.getLogger("test.logs.redact")
    logger.addHandler(handler)
    logger.propagate = False
    token = "eyJhbGciOi.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    try:
        raise ValueError(f"bad header Bearer {token}")
    except ValueError:
        logger.exception("request failed")
    logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert token not in line["exc"] and "<token redacted>" in line["exc"]


def test_every_service_s_log_setup_redacts_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    """`logs.setup` is every service's (the workers' and the monitor's had no redaction)."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    token = "eyJhbGciOi.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    try:
        logs.setup("workers")
        logging.getLogger("test.logs.setup").warning("GET /ws?token=%s failed", token)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["service"] == "workers" and line["msg"] == "GET /ws?token=<token redacted> failed"
