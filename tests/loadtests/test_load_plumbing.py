"""The pure parts of the load tooling: gate, wire encodings, sizing, config hand-off."""

from __future__ import annotations

import json

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
    assert plan_workers(100_000) == 10
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
