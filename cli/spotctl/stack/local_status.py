"""How `ps` words a local service's state, decided in plain code from what the runtime found: its
record (absent, external), the supervisor's history, a `spotctl chaos` hold, the running process and,
only when it is worth asking, one health probe (`Health`, called at most once).

The local runtime gathers the facts (`local.py`); the tests can state any of them directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from spotctl.stack import probes, supervision
from spotctl.stack.control import Hold
from spotctl.stack.runtime import ServiceStatus, State

#: the probe's verdict: healthy, a detail, and the /health body when the service answered one
Health = Callable[[], tuple[bool, str, dict[str, Any] | None]]

_ROUTINE = {"status", "service", "uptime_s", "port", "version", "restarts"}  # not worth a column in ps


@dataclass(frozen=True)
class Meta:
    """What `ps` must know beyond the pid: absent with a hint, external with a URL, a note."""

    kind: str  # process | absent | external
    note: str = ""
    hint: str = ""
    url: str = ""


@dataclass(frozen=True)
class Found:
    """What the runtime knows of one service at `now`."""

    name: str
    endpoints: tuple[str, ...]
    required: bool
    meta: Meta | None
    now: float
    sup: supervision.Record
    hold: Hold | None
    has_spec: bool  # the supervisor has been told how to start it
    pid: int | None = None  # the running process, if any
    started_at: float = 0.0  # its create time
    budget_s: float = 0.0  # how long it may take to become healthy before it counts as unhealthy


def describe(found: Found, health: Health) -> ServiceStatus:
    name, meta, now, sup, hold, endpoints = found.name, found.meta, found.now, found.sup, found.hold, found.endpoints

    def make(state: State, **fields: Any) -> ServiceStatus:
        return ServiceStatus(name=name, state=state, required=found.required, note=meta.note if meta else "",
                             **fields)

    if meta and meta.kind == "absent":
        return make(State.absent, detail=meta.note, hint=meta.hint)
    if meta and meta.kind == "external":
        healthy, detail, _ = health()
        return make(State.healthy if healthy else State.unhealthy, endpoints=(meta.url,), detail=detail)
    history = supervision_fields(sup)
    if found.pid is None:
        if hold is not None and hold.kind == "stop" and hold.active(now):
            return make(State.stopped, endpoints=endpoints, detail=held("stopped", hold, now),
                        hint=f"spotctl chaos resume {name}", **history)
        if sup.next_start_at is not None and found.has_spec:
            return make(State.restarting, endpoints=endpoints, detail=supervision.summary(sup, now, False),
                        **history)
        detail = supervision.summary(sup, now) or "not running"
        return make(State.stopped, endpoints=endpoints, detail=detail, hint=f"spotctl up {name}", **history)
    if hold is not None and hold.kind == "pause" and hold.active(now):
        return make(State.paused, endpoints=endpoints, pid=found.pid, detail=held("paused", hold, now),
                    hint=f"spotctl chaos resume {name}", **history)
    healthy, detail, body = health()
    state = State.healthy if healthy else (
        State.starting if now - found.started_at < found.budget_s else State.unhealthy)
    if sup.crash_loop and not healthy:
        detail = f"{supervision.summary(sup, now, False)}; {detail}"
    extra = health_details(body) if state is State.healthy else {}
    wrong = probes.problems(body or {})
    if wrong:
        state, detail = State.degraded, "degraded: " + "; ".join(wrong)
        extra["degraded"] = ", ".join(w.split(" (")[0] for w in wrong)
    return make(state, endpoints=endpoints, pid=found.pid, detail=detail, extra=extra, **history)


def held(what: str, hold: Hold, now: float) -> str:
    until = "until `spotctl chaos resume`" if math.isinf(hold.until) else f"for {hold.until - now:.0f}s more"
    return f"{what} by `spotctl chaos` {until}"


def supervision_fields(sup: supervision.Record) -> dict[str, Any]:
    """What `ps` shows of the supervisor's history: restarts, the last exit, a crash loop."""
    fields: dict[str, Any] = {"restarts": sup.restarts, "crash_loop": sup.crash_loop}
    if sup.last_exit is not None:
        fields["last_exit"] = sup.last_exit.reason
        fields["last_exit_at"] = round(sup.last_exit.at, 3)
    return fields


def health_details(body: dict[str, Any] | None) -> dict[str, object]:
    """Facts worth a column in ps (e.g. the playlist store): the body's plain values, typed as sent."""
    return {k: v for k, v in (body or {}).items() if isinstance(v, str | int | float) and k not in _ROUTINE}


def settling(status: ServiceStatus, services: Mapping[str, Any], healthy: set[str]) -> bool:
    """Whether a degraded status should clear by itself: every store it names (`extra["degraded"]`:
    "rabbitmq, delivery: waiting") is healthy now, and no worker of it is stalled or failed."""
    items = [item.strip() for item in str(status.extra.get("degraded", "")).split(",")]
    stores = {item for item in items if item in services}
    stuck = any(item.endswith((": stalled", ": failed")) for item in items)
    return not stuck and stores <= healthy
