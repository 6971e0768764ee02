"""The JSON shape of Kafka event values: a dict with `ts` (epoch seconds) and an `event_id`
(consumers de-duplicate redeliveries on it). Topic names are the contract's (`Topic`)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from spotctl_sandbox.common import logs
from spotctl_sandbox.contract import Topic

__all__ = ["ALL_TOPICS", "Topic", "event_value"]


ALL_TOPICS: tuple[str, ...] = tuple(t.value for t in Topic)


def event_value(payload: dict[str, Any], ts: float | None = None) -> bytes:
    """Serialise an event; `ts` (now), `event_id` and the current `correlation_id` are added unless
    the payload carries them."""
    body = logs.stamp(payload)
    body.setdefault("ts", time.time() if ts is None else ts)
    body.setdefault("event_id", uuid.uuid4().hex)
    return json.dumps(body, separators=(",", ":"), default=str).encode()
