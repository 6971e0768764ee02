"""What a scenario file says, as frozen values: steps, their action, their checks, and results.

Strings in actions and checks may hold `{{ var }}` templates; they are rendered just before use, so
a step can use what an earlier step captured (a token, an id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Service(StrEnum):
    """A service a scenario needs (`requires:`); API, workers and analytics are also where an HTTP request goes."""

    api = "api"
    workers = "workers"
    hub = "hub"
    analytics = "analytics"


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    service: Service = Service.api
    json: Any = None
    query: Mapping[str, Any] = field(default_factory=dict)
    auth: str | None = None  # a bearer token (usually "{{ token }}")
    headers: Mapping[str, str] = field(default_factory=dict)
    status: int | None = None  # expected status; None means any 2xx
    expect: Mapping[str, Any] = field(default_factory=dict)  # `body.path: value` that must hold


@dataclass(frozen=True)
class CommandAction:
    """`spotctl ARGS`: shows the learner the command they can run themselves."""

    args: tuple[str, ...]


@dataclass(frozen=True)
class HubAction:
    """Things users do on the real-time hub: send a frame as a user, connect or disconnect one, edit a
    collaborative playlist, or notify a user as the backend does. Each op is the YAML mapping as written
    (rendered just before use); `together` sends them all at once instead of one after the other."""

    ops: tuple[Mapping[str, Any], ...]
    together: bool = False


Action = HttpRequest | CommandAction | HubAction


@dataclass(frozen=True)
class Check:
    """One thing that must have landed somewhere; `spec` holds the kind's fields (schema-checked).

    `within` is how long it may take to appear (workers are asynchronous); `capture` names values
    to keep from what was observed (e.g. a job's return value). Mail, push and Kafka checks look at
    what arrived since the step's action, unless `since_action` is off (then anything that matches).
    """

    kind: str  # a name in spotctl.guide.checks.KINDS
    spec: Mapping[str, Any]
    within_s: float = 10.0
    capture: Mapping[str, str] = field(default_factory=dict)
    since_action: bool = True


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    action: Action | None
    capture: Mapping[str, str]
    checks: tuple[Check, ...]
    hint: str
    explore: tuple[str, ...] = ()  # commands to look at the result yourself


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    summary: str
    requires: tuple[Service, ...]
    variables: Mapping[str, Any]
    steps: tuple[Step, ...]
    source: str = ""  # the file it was read from

    def step_capturing(self, var: str) -> int | None:
        """1-based number of the step that captures `var` (for 'run step N first' errors)."""
        for number, step in enumerate(self.steps, 1):
            if var in step.capture or any(var in c.capture for c in step.checks):
                return number
        return None


class Outcome(StrEnum):
    passed = "pass"
    failed = "fail"  # a verify check did not hold: the learner has something to look at
    error = "error"  # the action itself went wrong (bad status, command failed, missing variable)


@dataclass(frozen=True)
class CheckResult:
    kind: str
    description: str
    ok: bool
    detail: str = ""
    observed: Any = None
    look: str | None = None  # a spotctl command that shows what this check looked at


def outcome(checks: Sequence[CheckResult]) -> Outcome:
    """A step whose action succeeded passes when every check held."""
    return Outcome.passed if all(c.ok for c in checks) else Outcome.failed


@dataclass(frozen=True)
class StepResult:
    number: int
    title: str
    outcome: Outcome
    duration_s: float
    action: str = ""  # what was done, one line
    action_detail: str = ""  # its answer, one line
    checks: tuple[CheckResult, ...] = ()
    captured: Mapping[str, Any] = field(default_factory=dict)
    hint: str = ""
    error: str = ""
    explore: tuple[str, ...] = ()  # the step's commands with this run's values filled in

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.passed

    def as_json(self) -> dict[str, Any]:
        return {"step": self.number, "title": self.title, "outcome": self.outcome.value,
                "duration_s": round(self.duration_s, 3), "action": self.action,
                "action_detail": self.action_detail, "error": self.error or None,
                "checks": [{"kind": c.kind, "check": c.description, "ok": c.ok, "detail": c.detail,
                            "look": c.look} for c in self.checks],
                "captured": dict(self.captured), "hint": None if self.passed else self.hint,
                "explore": list(self.explore)}
