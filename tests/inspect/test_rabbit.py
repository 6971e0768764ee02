"""`spotctl rabbit` against a real RabbitMQ: a queue, its DLQ and a dead-letter exchange of the test's own."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pika
import pytest

pytestmark = pytest.mark.stack


class Topology:
    """queue -> (rejected) -> exchange `dlx` -> queue.dlq, as the workers declare theirs."""

    def __init__(self, url: str, uid: str) -> None:
        self.conn = pika.BlockingConnection(pika.URLParameters(url))
        self.ch = self.conn.channel()
        self.queue, self.dlq, self.dlx = f"{uid}.work", f"{uid}.work.dlq", f"{uid}.dlx"
        self.ch.exchange_declare(self.dlx, "direct", auto_delete=False)
        self.ch.queue_declare(self.dlq)
        self.ch.queue_bind(self.dlq, self.dlx, routing_key=self.dlq)
        self.ch.queue_declare(self.queue, arguments={"x-dead-letter-exchange": self.dlx,
                                                     "x-dead-letter-routing-key": self.dlq})

    def publish(self, *bodies: str) -> None:
        for body in bodies:
            self.ch.basic_publish("", self.queue, body.encode())

    def depth(self, queue: str) -> int:
        return int(self.ch.queue_declare(queue, passive=True).method.message_count)

    def dead_letter_one(self) -> None:
        method, _, _ = self.ch.basic_get(self.queue, auto_ack=False)
        assert method is not None
        self.ch.basic_reject(method.delivery_tag, requeue=False)

    def close(self) -> None:
        for q in (self.queue, self.dlq):
            self.ch.queue_delete(q)
        self.ch.exchange_delete(self.dlx)
        self.conn.close()


@pytest.fixture
def topo(stack: Any, uid: str) -> Iterator[Topology]:
    t = Topology(stack.env["AMQP_URL"], uid)
    yield t
    t.close()


def eventually(check: Callable[[], Any], timeout: float = 15) -> Any:
    """The management API refreshes its numbers every few seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def test_publish_then_queues_shows_ready_count(cli, topo: Topology) -> None:
    topo.publish('{"n": 0}', '{"n": 1}')
    sent = cli("rabbit", "publish", json.dumps({"n": 2}), "--queue", topo.queue, "-o", "json")
    assert sent.code == 0, sent
    assert sent.json() == {"exchange": "", "routing_key": topo.queue, "bytes": 8, "confirmed": True}
    assert topo.depth(topo.queue) == 3

    def listed() -> dict[str, Any] | None:
        queues = cli("rabbit", "queues", "-o", "json").json()
        mine = next((q for q in queues if q["name"] == topo.queue), None)
        return mine if mine and mine["ready"] == 3 else None

    mine = eventually(listed)
    assert mine is not None and mine["consumers"] == 0 and mine["dead_letter_exchange"] == topo.dlx


def test_exchanges_and_bindings(cli, topo: Topology) -> None:
    exchanges = cli("rabbit", "exchanges", "-o", "json")
    assert exchanges.code == 0, exchanges
    assert {"name": topo.dlx, "type": "direct"}.items() <= next(
        x for x in exchanges.json() if x["name"] == topo.dlx).items()
    bindings = cli("rabbit", "bindings", "--queue", topo.dlq, "-o", "json").json()
    assert {(b["source"], b["routing_key"]) for b in bindings} == {("(default)", topo.dlq), (topo.dlx, topo.dlq)}


def test_peek_requeues_everything(cli, topo: Topology) -> None:
    assert cli("rabbit", "publish", '{"a": 1}', "-q", topo.queue).code == 0
    topo.publish("plain")
    result = cli("rabbit", "peek", topo.queue, "5", "-o", "json")
    assert result.code == 0, result
    peeked = result.json()
    assert peeked["messages_in_queue"] == 2
    assert [m["body"] for m in peeked["messages"]] == [{"a": 1}, "plain"]
    assert peeked["messages"][0]["properties"]["content_type"] == "application/json"
    assert topo.depth(topo.queue) == 2


def test_publish_that_no_queue_receives_fails(cli, topo: Topology) -> None:
    result = cli("rabbit", "publish", "x", "--exchange", topo.dlx, "--routing-key", "nobody")
    assert result.code == 1 and "no queue is bound" in result.err


def test_purge_counts_and_needs_yes(cli, topo: Topology) -> None:
    topo.publish("m", "m", "m", "m")
    refused = cli("rabbit", "purge", topo.queue)
    assert refused.refused() and "4 ready message(s)" in refused.err
    assert topo.depth(topo.queue) == 4
    assert cli("purge", "queue", topo.queue).refused()  # the ops umbrella asks too
    done = cli("purge", "queue", topo.queue, "--yes", "-o", "json")
    assert done.json() == {"queue": topo.queue, "purged": 4}
    assert topo.depth(topo.queue) == 0


def test_dead_letters_are_shown_and_redriven(cli, topo: Topology) -> None:
    topo.publish('{"poison": true}')
    topo.dead_letter_one()
    assert eventually(lambda: topo.depth(topo.dlq) == 1, timeout=5)  # dead-lettering is asynchronous

    seen = cli("rabbit", "dlq", topo.queue, "-o", "json")
    assert seen.code == 0, seen
    (msg,) = seen.json()["messages"]
    assert msg["body"] == {"poison": True}
    assert msg["death"]["reason"] == "rejected" and msg["death"]["queue"] == topo.queue

    listed = eventually(lambda: [d for d in cli("rabbit", "dlq", "-o", "json").json()
                                 if d["dlq"] == topo.dlq and d["messages"] == 1])
    assert listed == [{"dlq": topo.dlq, "queue": topo.queue, "messages": 1}]

    assert cli("rabbit", "redrive", topo.queue).refused()
    assert topo.depth(topo.dlq) == 1
    moved = cli("rabbit", "redrive", topo.queue, "--yes", "-o", "json")
    assert moved.json() == {"dlq": topo.dlq, "moved": 1, "to": {topo.queue: 1}}
    assert (topo.depth(topo.queue), topo.depth(topo.dlq)) == (1, 0)
    assert cli("rabbit", "redrive", topo.queue, "--yes").code == 1  # empty now: says so

    topo.dead_letter_one()
    assert eventually(lambda: topo.depth(topo.dlq) == 1, timeout=5)
    assert cli("purge", "dlq", topo.queue).refused()
    assert cli("purge", "dlq", topo.queue, "--yes", "-o", "json").json() == {"queue": topo.dlq, "purged": 1}


def test_missing_queue_is_one_line(cli, uid: str) -> None:
    result = cli("rabbit", "peek", f"{uid}.absent")
    assert result.code == 1 and "NOT_FOUND" in result.err and "Traceback" not in result.err


def test_down_rabbitmq_names_the_url(cli, closed_port) -> None:
    port = closed_port()
    amqp = f"amqp://guest:guest@127.0.0.1:{port}/%2F"
    assert cli("rabbit", "queues", "--mgmt-url", f"http://guest:guest@127.0.0.1:{port}",
               env={"AMQP_URL": amqp}).down("rabbitmq", f"http://guest:***@127.0.0.1:{port}")
    assert cli("rabbit", "peek", "q", "--url", amqp).down("rabbitmq", f"amqp://guest:***@127.0.0.1:{port}/%2F")


def test_missing_management_plugin_is_told_apart_from_a_down_broker(cli, closed_port) -> None:
    result = cli("rabbit", "queues", "--mgmt-url", f"http://127.0.0.1:{closed_port()}")
    assert result.code == 1 and "management API is not reachable" in result.err and "answers" in result.err
    assert "peek, publish, purge" in result.err
