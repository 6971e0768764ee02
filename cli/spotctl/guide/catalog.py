"""Scenario files: `<project>/scenarios/*.yaml`, found by name (the file's stem)."""

from __future__ import annotations

from pathlib import Path

from spotctl.errors import UsageError
from spotctl.guide.model import Scenario
from spotctl.guide.parse import parse_text

# The order people should take them in: the tour first, then the seed's six flows (and flow 3's real-time leg),
# then the hub's own: chat, listening together, editing a playlist together; then analytics.
ORDER = ("quickstart", "play", "recommendations", "release", "notifications", "playlist", "search", "daily-report",
         "chat", "listening-session", "collaborative-playlist", "analytics")


def folder() -> Path:
    from spotctl import project

    return project.current().root / "scenarios"


def names(where: Path | None = None) -> list[str]:
    found = {p.stem for p in (where or folder()).glob("*.yaml")}
    return sorted(found, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def load(name: str, where: Path | None = None) -> Scenario:
    base = where or folder()
    file = base / f"{name}.yaml"
    if not file.is_file():
        known = ", ".join(names(base)) or "none"
        raise UsageError(f"no scenario {name!r}; known: {known}", hint="see `spotctl scenario list`")
    return parse_text(file.read_text(encoding="utf-8"), name, str(file.relative_to(base.parent)))


def load_all(where: Path | None = None) -> list[Scenario]:
    return [load(n, where) for n in names(where)]
