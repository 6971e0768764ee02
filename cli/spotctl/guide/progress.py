"""Where a learner is in each scenario, kept between runs (like rustlings' progress).

`Progress` is a pure value: which steps passed and the variables captured on the way, so that
`--step N` can pick up with the token step 2 captured. `load`/`save` are the only I/O.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from spotctl.errors import UsageError
from spotctl.guide import template
from spotctl.guide.model import Scenario, StepResult


@dataclass(frozen=True)
class Progress:
    passed: frozenset[int] = frozenset()
    variables: Mapping[str, Any] = field(default_factory=dict)
    failed_at: int | None = None
    updated_at: float | None = None

    def after(self, result: StepResult, variables: Mapping[str, Any], now: float) -> Progress:
        """The progress once `result` is known; a failed step is no longer counted as passed."""
        passed = self.passed | {result.number} if result.passed else self.passed - {result.number}
        return replace(self, passed=frozenset(passed), variables=dict(variables),
                       failed_at=None if result.passed else result.number, updated_at=now)

    def label(self, total: int) -> str:
        if not self.passed and self.failed_at is None:
            return "not started"
        if len(self.passed) >= total:
            return "done"
        suffix = f", step {self.failed_at} failed" if self.failed_at else ""
        return f"{len(self.passed)}/{total}{suffix}"

    def next_step(self, total: int) -> int | None:
        """The first step not passed yet (None when all are)."""
        return next((n for n in range(1, total + 1) if n not in self.passed), None)

    def as_json(self) -> dict[str, Any]:
        return {"passed": sorted(self.passed), "variables": dict(self.variables), "failed_at": self.failed_at,
                "updated_at": self.updated_at}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Progress:
        return cls(passed=frozenset(int(n) for n in data.get("passed", [])),
                   variables=dict(data.get("variables", {})), failed_at=data.get("failed_at"),
                   updated_at=data.get("updated_at"))


def plan(total: int, start: int, only: bool) -> range:
    """Step numbers a run goes through (it stops early at the first step that does not pass)."""
    if not 1 <= start <= total:
        raise UsageError(f"--step {start}: the scenario has steps 1..{total}")
    return range(start, start + 1 if only else total + 1)


def builtins(now: dt.datetime) -> dict[str, Any]:
    """Variables every run has: a fresh `run` id (unique e-mails, titles), today and yesterday (UTC)."""
    return {"run": secrets.token_hex(4), "now": int(now.timestamp()), "today": now.date().isoformat(),
            "yesterday": (now.date() - dt.timedelta(days=1)).isoformat()}


def start_variables(scenario: Scenario, progress: Progress, start: int, now: dt.datetime) -> dict[str, Any]:
    """Step 1 starts afresh (new run id, new user); a later step continues with what was captured."""
    if start < 1 or start > len(scenario.steps):
        raise UsageError(f"--step {start}: {scenario.name} has steps 1..{len(scenario.steps)}")
    if start > 1 and progress.variables:
        return dict(progress.variables)
    variables = builtins(now)
    for name, value in scenario.variables.items():  # in order: a var may use builtins and earlier vars
        variables[name] = template.render(value, variables)
    return variables


# --- I/O: one JSON file in the project's state dir -------------------------------------------------

def path(state_dir: Path) -> Path:
    return state_dir / "scenarios" / "progress.json"


def load_all(state_dir: Path) -> dict[str, Progress]:
    file = path(state_dir)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # a damaged progress file only costs the learner their ticks, never a crash
    return {name: Progress.from_json(p) for name, p in data.items() if isinstance(p, Mapping)}


def load(state_dir: Path, name: str) -> Progress:
    return load_all(state_dir).get(name, Progress())


def save(state_dir: Path, name: str, progress: Progress | None) -> None:
    """Write (or with None, forget) one scenario's progress; atomic so a ctrl-c cannot corrupt it."""
    everything = {n: p.as_json() for n, p in load_all(state_dir).items()}
    if progress is None:
        everything.pop(name, None)
    else:
        everything[name] = progress.as_json()
    file = path(state_dir)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps(everything, indent=2, default=str), encoding="utf-8")
    tmp.replace(file)
