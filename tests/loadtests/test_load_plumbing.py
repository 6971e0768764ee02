"""The pure parts of the load tooling: gate, wire encodings, sizing, config hand-off."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from loadtests import summary, wire
from loadtests.config import RunConfig
from loadtests.hubwire import HubAdapter
from loadtests.run import plan_workers


def test_a_clean_run_passes_and_each_miss_fails_its_own_check() -> None:
    fast = summary.Latency(count=100, p50_ms=3, p99_ms=20, max_ms=40)
    ok = summary.judge(summary.Totals(), fast, failures=0, measures_latency=True, target_p99_ms=50,
                       generator_cpu_max=40)
    assert all(c.ok for c in ok)
    bad = summary.judge(summary.Totals(drops=2, handshake_failures=1), summary.Latency(count=5, p99_ms=80),
                        failures=3, measures_latency=True, target_p99_ms=50, generator_cpu_max=97,
                        missing_workers=1)
    assert {c.name for c in bad if not c.ok} == {"drops", "handshakes", "failures", "generator", "workers", "p99"}


def test_a_latency_run_without_a_single_delivery_fails() -> None:
    checks = summary.judge(summary.Totals(), summary.Latency(), failures=0, measures_latency=True,
                           target_p99_ms=50, generator_cpu_max=10)
    assert [c.detail for c in checks if not c.ok] == ["no deliveries were measured"]


def test_workers_are_sized_for_the_fd_limit() -> None:
    assert plan_workers(50) == 1
    assert plan_workers(100_000) == 6
    assert plan_workers(100_000, requested=4) == 4


def test_config_survives_the_trip_through_the_environment() -> None:
    cfg = RunConfig(scenario="latency", users=1234, msg_rate=12.5, worker_index=3, run_id="abc")
    back = RunConfig.from_env(cfg.to_env())
    assert back == cfg
    assert back.source_address == "127.0.0.5"
    assert back.user_id(7) == "load-abc-7"


def test_hub_frames_encode_and_decode() -> None:
    hub = HubAdapter()
    assert json.loads(hub.publish("r1", {"ts": 1.0})) == {"type": "room_message",
                                                          "content": {"room": "r1", "data": {"ts": 1.0}}}
    got = hub.decode('{"id":"1-0","type":"room_message","content":{"room":"r1","from":"u","data":{"ts":2}}}')
    assert (got.kind, got.room, got.data) == (wire.Kind.DELIVERY, "r1", {"ts": 2})
    batch = hub.decode('{"type":"notification_batch","content":{"notifications":[{"id":"n1"},{"id":"n2"}]}}')
    assert batch.kind is wire.Kind.NOTIFICATION and len(batch.data) == 2
    assert hub.decode('{"type":"error","content":{"code":"x"},"reply_to":"h1"}').reply_to == "h1"


def test_socketio_pings_are_answered_and_events_decoded() -> None:
    sio = wire.SocketIO()
    assert sio.decode("2").answer == "3"
    assert sio.decode('40{"sid":"x"}').kind is wire.Kind.READY
    got = sio.decode('42["message",{"room":"r","data":{"ts":1}}]')
    assert (got.kind, got.room) == (wire.Kind.DELIVERY, "r")
    assert sio.url("ws://127.0.0.1:9/").endswith("/socket.io/?EIO=4&transport=websocket")


def test_the_passive_scanner_counts_deliveries_across_reads_and_returns_pings() -> None:
    from loadtests.framescan import FrameScanner

    def frame(opcode: int, payload: bytes) -> bytes:
        n = len(payload)
        head = bytes([0x80 | opcode, n]) if n < 126 else bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
        return head + payload

    delivery = frame(1, b'{"id":"1-0","type":"room_message","content":{"data":"' + b"x" * 300 + b'"}}')
    reply = frame(1, b'{"id":"e:1","type":"room_message_result","content":{}}')
    stream = delivery + reply + frame(9, b"hb") + delivery
    scanner = FrameScanner(b'"type":"room_message"')
    counted, pings = scanner.feed(stream[:100])
    assert (counted, pings) == (0, [])
    counted, pings = scanner.feed(stream[100:])
    assert (counted, pings, scanner.closed) == (2, [b"hb"], False)
    scanner.feed(frame(8, b"\x03\xe8"))
    assert scanner.closed


def test_the_scanner_counts_a_protocols_own_ping_frames_apart_from_deliveries() -> None:
    from loadtests.framescan import FrameScanner

    scanner = FrameScanner(b'42["message"', app_ping=b"2")
    stream = bytes([0x81, 1]) + b"2" + bytes([0x81, 16]) + b'42["message",{}]' + bytes([0x81, 2]) + b"22"
    counted, pings = scanner.feed(stream)
    assert (counted, pings, scanner.app_pings, bytes(scanner.buf)) == (1, [], 1, b"")  # "22" is not a ping


def test_a_probes_scanner_keeps_every_data_message_whole_across_reads_and_fragments() -> None:
    """Probes decode what the scanner keeps: each text or binary message once, in order, a fragmented
    one joined, split reads reassembled; pings still come back to be answered; nothing is counted."""
    from loadtests.framescan import FrameScanner

    long = b'{"type":"message","data":"' + b"y" * 200 + b'"}'
    stream = (bytes([0x81, 126]) + len(long).to_bytes(2, "big") + long
              + bytes([0x01, 3]) + b'{"a' + bytes([0x89, 2]) + b"hb" + bytes([0x80, 4]) + b'":1}'  # fragments
              + bytes([0x82, 2]) + b"\x00\x01" + bytes([0x81, 1]) + b"2")
    scanner = FrameScanner(b'"type":"message"', keep=True)
    counted, pings = scanner.feed(stream[:50])
    assert (counted, pings, scanner.payloads) == (0, [], [])
    counted, pings = scanner.feed(stream[50:])
    assert (counted, pings) == (0, [b"hb"])
    assert scanner.payloads == [long, b'{"a":1}', b"\x00\x01", b"2"]
    assert bytes(scanner.buf) == b"" and scanner.partial is None


def test_default_rates_stay_within_the_hubs_documented_limits() -> None:
    """`load run latency --users 50`: one room, one leader; it must not send more than the hub accepts."""
    from pathlib import Path

    from loadtests.catalog import SCENARIOS, hub_rate_limit
    from loadtests.run import RunRequest, msg_rate_of

    limit = hub_rate_limit({})
    assert limit == 20  # HUB_CONN_RATE's default, docs/hub-protocol.md
    request = RunRequest(scenario="latency", users=50, spawn_rate=50, hold_s=30, target_p99_ms=50,
                         results_dir=Path("."), env={})
    rate = msg_rate_of(request)
    assert 0 < SCENARIOS["latency"].frames_per_sender(rate, 50, 50) <= limit / 2
    assert msg_rate_of(RunRequest(**{**request.__dict__, "users": 100_000})) == 100  # big runs keep theirs
    assert SCENARIOS["chat"].frames_per_sender(msg_rate_of(RunRequest(**{**request.__dict__, "scenario": "chat",
                                                                         "users": 2})), 2, 20) <= limit / 2
    assert hub_rate_limit({"HUB_CONN_RATE": "500", "HUB_USER_RATE": "100/second"}) == 100


def test_an_asked_rate_over_the_hubs_limit_is_named_before_the_run() -> None:
    from pathlib import Path

    from loadtests.run import RunRequest, warnings

    request = RunRequest(scenario="latency", users=50, spawn_rate=50, hold_s=30, target_p99_ms=50,
                         results_dir=Path("."), env={}, msg_rate=100)
    [advice] = warnings(request)
    assert "100 frames/s" in advice and "1013" in advice and "--msg-rate 10 fits" in advice
    assert warnings(RunRequest(**{**request.__dict__, "msg_rate": 10})) == []
    assert warnings(RunRequest(**{**request.__dict__, "target": "node-ws"})) == []  # no limits there


def test_drops_name_their_close_codes_and_rejected_frames_fail_the_run() -> None:
    checks = {c.name: c for c in summary.judge(
        summary.Totals(drops=39), summary.Latency(count=10, p99_ms=5), failures=0, measures_latency=True,
        target_p99_ms=50, generator_cpu_max=10, close_codes={"1013": 39},
        hub_rate_limited={"connection": 1234, "user": 0})}
    assert checks["drops"].detail == ("39 connections dropped "
                                      "(1013 try again later: the hub's rate limit, a slow reader or Redis x39)")
    assert not checks["rate limits"].ok and "1,234" in checks["rate limits"].detail
    assert "lower --msg-rate" in checks["rate limits"].detail


def test_an_interrupted_run_never_passes() -> None:
    built = summary.build(scenario="latency", target="hub", url="ws://x", users=5, workers=1, connections_peak=5,
                          totals=summary.Totals(), latency=summary.Latency(count=10, p99_ms=3), failures=0,
                          requests=0, duration_s=4, target_p99_ms=50, measures_latency=True, generator_cpu_max=5,
                          hold_s=3, interrupted=True, planned_hold_s=300)
    assert built.interrupted and not built.passed
    assert [c.detail for c in built.checks if not c.ok] == ["stopped after 3 s of the 300 s hold"]


def test_the_api_scenario_is_summarised_in_http_terms() -> None:
    from loadtests.present import summary_rows

    built = summary.build(scenario="api", target="api", url="http://x", users=4, workers=1, connections_peak=0,
                          totals=summary.Totals(messages=80), latency=summary.Latency(count=80, p99_ms=30),
                          failures=2, requests=100, duration_s=6, target_p99_ms=50, measures_latency=True,
                          generator_cpu_max=5, hold_s=5, protocol="http")
    assert {c.name for c in built.checks} == {"failures", "generator", "workers", "p99"}
    assert [c.detail for c in built.checks if not c.ok] == ["2 failed requests"]
    labels = [label for label, _ in summary_rows(built.to_json())]
    assert "requests" in labels and "failed requests" in labels and "request time p50 / p99 / max" in labels
    assert not [label for label in labels if "connection" in label or "handshake" in label or "drops" in label]


def test_the_live_line_fits_the_terminal_with_p99_and_time_left_first() -> None:
    from loadtests.present import live_line

    progress = {"elapsed_s": 12, "users": 9_999, "connections": 99_999, "connections_peak": 99_999, "drops": 39,
                "handshake_failures": 3, "messages": 10, "deliveries_per_s": 12345.6, "sent_per_s": 1, "p50_ms": 3.2,
                "p99_ms": 41.7, "failures": 39, "cpu_max": 12, "remaining_s": 95, "close_codes": {"1013": 39},
                "rate_limited": {"connection": 800, "user": 0}, "requests": 0, "protocol": "ws"}
    for width in (40, 80, 120):
        line = live_line(progress, 100_000, width)
        assert len(line) <= width and line.startswith("p99 41.7 ms  1m35s left")
    wide = live_line(progress, 100_000, 400)
    assert "drops 39 (1013x39)" in wide and "hub rate-limited 800" in wide and "gen cpu 12%" in wide


def test_cpu_is_averaged_over_a_window_and_the_hubs_counters_are_read_from_metrics() -> None:
    from loadtests.gauges import CpuWindow, rate_limited, since

    window = CpuWindow(window_s=5)
    assert window.add(0.0, 0.0) == 0.0
    assert window.add(1.0, 1.0) == 100.0   # a busy second...
    assert window.add(3.0, 1.2) == 40.0    # ...averaged with the quieter ones after it
    assert window.add(6.0, 1.5) == 10.0    # ...until it leaves the 5 s window
    text = ('# HELP hub_rate_limited_total Frames rejected by rate limits\n# TYPE hub_rate_limited_total counter\n'
            'hub_rate_limited_total{scope="connection",worker="0"} 5.0\n'
            'hub_rate_limited_total{scope="connection",worker="1"} 7.0\n'
            'hub_rate_limited_total{scope="user",worker="1"} 1.0\n')
    assert rate_limited(text) == {"connection": 12, "user": 1}
    assert since({"connection": 12, "user": 1}, {"connection": 10}) == {"connection": 2, "user": 1}
    assert since(None, {"connection": 10}) is None


def test_the_hubs_pauses_are_read_per_step_from_its_histograms_and_the_generators_from_reports() -> None:
    """Each step's pause figures: the hub's from two readings of its /metrics (real prometheus_client
    output), the generator's from its workers' cumulative reports."""
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from loadtests.stalls import ServerEdge, StepStalls, server_step

    registry = CollectorRegistry()
    gc_hist = Histogram("hub_gc_pause_seconds", "", ["worker", "generation"], registry=registry,
                        buckets=(.001, .01, .02, .05, .1))
    lag = Histogram("hub_loop_lag_seconds", "", ["worker"], registry=registry, buckets=(.001, .01, .02, .05, .1))
    gc_hist.labels("0", "0").observe(0.0005)
    before = ServerEdge.read(generate_latest(registry).decode(), [])
    gc_hist.labels("0", "2").observe(0.07)  # one long full collection in worker 0 ...
    gc_hist.labels("1", "0").observe(0.004)
    lag.labels("1").observe(0.03)           # ... and a loop held 30 ms in worker 1
    after = ServerEdge.read(generate_latest(registry).decode(), [])
    row = server_step(before, after, step_s=10)
    assert (row["hub_gc_s"], row["hub_gc_long"], row["hub_gc_max_ms"]) == (0.074, 1, 100.0)
    assert (row["hub_lag_s"], row["hub_lag_long"], row["hub_lag_max_ms"]) == (0.03, 1, 50.0)
    assert server_step(before, before, 10)["hub_gc_max_ms"] is None  # nothing collected in the step
    assert server_step(ServerEdge(None, {}), ServerEdge(None, {}), 10)["hub_gc_s"] is None  # no hub

    steps = StepStalls(2)
    steps.add(0, "w1", {"gc_s": 1.0, "gc_long": 2, "lag_s": 0, "lag_long": 0, "wait_s": 5.0})  # baseline
    steps.add(0, "w1", {"gc_s": 1.5, "gc_long": 3, "gc_max_ms": 40, "lag_s": .2, "lag_long": 1, "lag_max_ms": 60,
                        "wait_s": 6.0})
    steps.add(1, "w1", {"gc_s": 1.5, "gc_long": 3, "gc_max_ms": 0, "lag_s": .2, "lag_long": 1, "wait_s": 6.5})
    assert steps.row(0, step_s=10) == {
        "generator_gc_s": 0.5, "generator_gc_long": 1, "generator_gc_max_ms": 40.0, "generator_lag_s": 0.2,
        "generator_lag_long": 1, "generator_lag_max_ms": 60.0, "generator_wait_pct": 10.0}
    assert steps.row(1, step_s=10)["generator_wait_pct"] == 5.0 and steps.row(1, 10)["generator_gc_long"] == 0


def test_report_html_gets_spotctls_verdict_checks_and_latency_above_locusts_page(tmp_path: Any) -> None:
    from loadtests.htmlreport import add_to

    built = summary.build(scenario="latency", target="hub", url="ws://x", users=5, workers=1, connections_peak=5,
                          totals=summary.Totals(drops=1), latency=summary.Latency(count=10, p50_ms=2, p99_ms=7.5),
                          failures=0, requests=0, duration_s=4, target_p99_ms=50, measures_latency=True,
                          generator_cpu_max=5, hold_s=3, close_codes={"1013": 1})
    report, timeline = tmp_path / "report.html", tmp_path / "timeline.csv"
    report.write_text('<html><head><title>Locust</title></head><body><div id="root"></div></body></html>')
    timeline.write_text("elapsed_s,users,connections,drops,handshake_failures,deliveries_per_s,sent_per_s,"
                        "p50_ms,p99_ms\n1.0,5,5,0,0,10,1,2.0,7.5\n3.0,5,5,1,0,10,1,1.5,4.0\n")
    assert add_to(report, built.to_json(), timeline)
    page = report.read_text()
    assert page.index('id="spotctl"') < page.index('<div id="root">')
    assert "spotctl: FAILED" in page and "FAIL: drops" in page
    assert "1013 try again later: the hub&#x27;s rate limit" in page
    assert "7.5" in page and "<svg" in page and "<title>spotctl load latency: FAILED</title>" in page
    assert not add_to(report, built.to_json(), timeline)  # once


def test_the_server_tree_cpu_counts_its_children_and_the_config_carries_its_pids() -> None:
    import subprocess
    import sys

    from loadtests.gauges import TreeCpu

    # a parent that only waits, and a child of it that burns CPU: the child's seconds are the tree's
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; subprocess.run([sys.executable, "
                               "'-c', 'import time\\nend = time.process_time() + 0.6\\nwhile time.process_time() "
                               "< end: pass'])"])
    meter = TreeCpu([parent.pid])
    used = 0.0
    try:
        import time

        deadline = time.monotonic() + 20
        while used < 0.3 and time.monotonic() < deadline:
            used = max(used, meter.server_s())
            time.sleep(0.05)
    finally:
        parent.wait(30)
    assert used >= 0.3
    assert TreeCpu.box_busy_s() > 0
    assert RunConfig(server_pids="12,34").server_pid_list == [12, 34]
    assert RunConfig().server_pid_list == []


def test_each_rate_step_spreads_its_sends_evenly_from_its_first_second() -> None:
    """The 100k curve's schedule (2,000 room leaders, 50-250 msgs/s in 30 s steps): every 2 s of every
    step offers the step's rate. Leaders that carried their phase over from the previous step's longer
    period bunched: 100-350 msgs/s in a 10 s wave at 200 msgs/s, and every p99 was measured at the crests."""
    import random
    from collections import Counter

    cfg = RunConfig(rate_steps="50,100,150,200,250", step_s=30, users=100_000, room_size=50)
    rng = random.Random(18)
    bins: Counter[int] = Counter()
    for _ in range(2000):
        for t in cfg.send_times(2000, rng.random(), start=1000.0):
            if t >= 1000.0 + 150:
                break
            bins[int((t - 1000.0) // 2)] += 1
    for step, rate in enumerate(cfg.steps):
        counts = [bins[b] for b in range(15 * step, 15 * step + 15)]
        assert all(abs(n - 2 * rate) <= 0.25 * 2 * rate for n in counts), (rate, counts)
        assert abs(sum(counts) - 30 * rate) <= 0.05 * 30 * rate
    flat = RunConfig(msg_rate=4, users=100, room_size=50)  # no steps: 2 rooms, each every 0.5 s, forever
    times = list(itertools.islice(flat.send_times(2, 0.5, start=0.0), 3))
    assert times == [0.25, 0.75, 1.25]


def test_deliveries_read_once_the_users_are_stopping_are_counted_but_not_timed() -> None:
    """In a process of its own, as a Locust worker (locust monkey-patches on import)."""
    import subprocess
    import sys

    script = """
import time
from locust.env import Environment
from loadtests.metrics import COUNTERS, STOPPING
from loadtests.users import WsUser
from loadtests.wire import Decoded, Kind

class Probe(WsUser):
    pass

user = Probe(Environment(user_classes=[Probe]))
user.probe = True
user.on_frame(Decoded(Kind.DELIVERY, data={"ts": time.time() - 0.01}))
STOPPING.set()
user.on_frame(Decoded(Kind.DELIVERY, data={"ts": time.time() - 2.0}))
print(COUNTERS.messages, COUNTERS.latency.get_total_count(), COUNTERS.latency.get_max_value())
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr[-2000:]
    messages, timed, max_us = (int(v) for v in out.stdout.split())
    assert (messages, timed) == (2, 1) and max_us < 1_000_000  # µs: the 2 s one was left out
