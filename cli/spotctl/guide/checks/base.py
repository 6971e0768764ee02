"""What every check kind is: one object holding its schema, how it observes, judges and describes.

A kind is a subclass of `Kind` in its own module, listed once in `spotctl.guide.checks.KINDS`.
`judge` and `describe` are pure (observation in, verdict out; spec in, one line out); `observe` is
the I/O, through `spotctl.clients` (via `Stores`). `before` runs just before the step's action, for
kinds that look for something *new* (Kafka records, mails, pushes).
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from spotctl.guide.template import matches, same

if TYPE_CHECKING:
    from spotctl.guide.stores import Stores

Spec = Mapping[str, Any]  # the kind's fields from the YAML (templates rendered before observe/judge)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: str
    observed: Any = None  # what `capture:` paths read from
    final: bool = False  # True: polling again cannot change a failure


class Kind(ABC):
    name: ClassVar[str]
    schema: ClassVar[dict[str, Any]]  # JSON schema of the kind's mapping (merged into scenario.schema.json)

    @abstractmethod
    def describe(self, spec: Spec) -> str:
        """One line saying what must hold, shown next to PASS/FAIL."""

    def look(self, spec: Spec) -> str | None:
        """The spotctl command that shows what the check looks at: printed next to a FAIL, so the learner
        inspects the store themselves instead of guessing."""
        return None

    @abstractmethod
    def judge(self, spec: Spec, seen: Any) -> Verdict:
        """Does the observation satisfy the check? Pure; asked again and again until `within` runs out."""

    async def before(self, stores: Stores, spec: Spec, since_action: bool) -> Any:
        """Taken just before the step's action; handed to `observe`. By default: since when "new" counts."""
        return time.time() if since_action else 0.0

    @abstractmethod
    async def observe(self, stores: Stores, spec: Spec, before: Any) -> Any:
        """What the store behind the check holds now."""

    async def after(self, before: Any) -> None:  # noqa: B027  (optional hook: most kinds take nothing)
        """Release what `before` took (a Kafka watch)."""


def short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def element_matches(expected: Any, element: Any) -> bool:
    """A list/set element: equal as text, or (JSON objects) holding the expected fields."""
    if isinstance(expected, Mapping):
        if isinstance(element, str):
            try:
                element = json.loads(element)
            except ValueError:
                return False
        return isinstance(element, Mapping) and matches(expected, element)
    return same(expected, element)


def plain(value: Any) -> Any:
    """Values a template or JSON can carry (dates and decimals as text)."""
    return value if isinstance(value, str | int | float | bool | dict | list) or value is None else str(value)
