"""What `spotctl rabbit` shows, shaped from management-API JSON and AMQP deliveries (no I/O here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from spotctl.inspect.values import decode, jsonable, maybe_json
from spotctl_sandbox import contract

DLQ_SUFFIX = contract.DLQ_SUFFIX  # exchange `dlx` routes a dead queue's messages to <queue>.dlq
dlq_name = contract.dlq_name


def _rate(stats: Mapping[str, Any] | None, name: str) -> float:
    details = (stats or {}).get(f"{name}_details") or {}
    return round(float(details.get("rate", 0.0)), 2)


def queue_summary(q: Mapping[str, Any]) -> dict[str, Any]:
    stats = q.get("message_stats")
    return {
        "name": q["name"], "vhost": q.get("vhost", "/"), "state": q.get("state", "?"),
        "ready": int(q.get("messages_ready", 0)), "unacked": int(q.get("messages_unacknowledged", 0)),
        "consumers": int(q.get("consumers", 0)),
        "publish_rate": _rate(stats, "publish"), "deliver_rate": _rate(stats, "deliver_get"),
        "ack_rate": _rate(stats, "ack"),
        "dead_letter_exchange": (q.get("arguments") or {}).get("x-dead-letter-exchange"),
    }


def queue_row(s: Mapping[str, Any]) -> tuple[Any, ...]:
    return (s["name"], s["ready"], s["unacked"], s["consumers"], f"{s['publish_rate']:g}/s",
            f"{s['deliver_rate']:g}/s", s["state"], s["dead_letter_exchange"] or "")


QUEUE_COLUMNS = ("queue", "ready", "unacked", "consumers", "in", "out", "state", "dlx")


def exchange_summary(x: Mapping[str, Any]) -> dict[str, Any]:
    stats = x.get("message_stats")
    return {"name": x["name"] or "(default)", "vhost": x.get("vhost", "/"), "type": x["type"],
            "durable": bool(x.get("durable")), "internal": bool(x.get("internal")),
            "alternate_exchange": (x.get("arguments") or {}).get("alternate-exchange"),
            "in_rate": _rate(stats, "publish_in"), "out_rate": _rate(stats, "publish_out")}


def binding_summary(b: Mapping[str, Any]) -> dict[str, Any]:
    return {"source": b["source"] or "(default)", "destination": b["destination"],
            "destination_type": b["destination_type"], "routing_key": b["routing_key"],
            "arguments": b.get("arguments") or {}}


def origin_queue(dlq: str, headers: Mapping[str, Any] | None) -> str:
    """Where a dead-lettered message came from: its newest x-death entry, else the DLQ's name minus .dlq."""
    deaths = (headers or {}).get("x-death") or []
    if deaths and deaths[0].get("queue"):
        return str(decode(deaths[0]["queue"]))
    return dlq[: -len(DLQ_SUFFIX)] if dlq.endswith(DLQ_SUFFIX) else dlq


def death_summary(headers: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Why and when a message died, from the newest x-death entry RabbitMQ added."""
    deaths = (headers or {}).get("x-death") or []
    if not deaths:
        return None
    d = deaths[0]
    when = d.get("time")
    return {"reason": decode(d.get("reason")), "queue": decode(d.get("queue")),
            "exchange": decode(d.get("exchange")),
            "routing_keys": [decode(k) for k in d.get("routing-keys") or []],
            "count": int(d.get("count", 1)),
            "time": when.replace(tzinfo=dt.UTC).isoformat() if isinstance(when, dt.datetime) else when}


def message_view(index: int, exchange: str, routing_key: str, redelivered: bool,
                 properties: Mapping[str, Any], body: bytes) -> dict[str, Any]:
    """One delivery for display and JSON: the body decoded (parsed when it is JSON), properties kept."""
    headers = properties.get("headers") or {}
    props = {k: jsonable(v) for k, v in properties.items() if v is not None and k != "headers"}
    return {"index": index, "exchange": exchange, "routing_key": routing_key, "redelivered": redelivered,
            "properties": props, "headers": {k: jsonable(_plain(v)) for k, v in headers.items()
                                             if k != "x-death"},
            "death": death_summary(headers), "body": maybe_json(decode(body))}


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return decode(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse_headers(pairs: Sequence[str]) -> dict[str, str]:
    """`--header k=v` options as a dict; a pair without '=' is a usage error."""
    from spotctl.errors import UsageError

    headers = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--header {pair!r} is not NAME=VALUE")
        headers[name] = value
    return headers
