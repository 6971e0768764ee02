"""The TUI's fixtures: sources on the real test stack (Pilot tests), and helpers that read a screen."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture(scope="module")
def sources(stack: Any, cli: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    from spotctl import project
    from spotctl.endpoints import Endpoints
    from spotctl.stack import runtime
    from spotctl.tui.data import Sources

    stack.up("api", "workers", "hub")
    seeded = cli("seed", "--songs", "200", env={**os.environ, **stack.env})
    assert seeded.returncode == 0, seeded.stderr
    rt = getattr(stack, "runtime", None) or runtime.select(None, project.current())
    return Sources(runtime=rt, endpoints=Endpoints(env=stack.env), state_dir=tmp_path_factory.mktemp("tui-state"))


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Let workers run until `condition` holds (fails the test after `timeout`)."""
    waited = 0.0
    while not condition():
        assert waited < timeout, "condition not met in time"
        await pilot.pause(0.1)
        waited += 0.1


def screen_text(app: Any) -> str:
    """What the terminal shows now, as plain text."""
    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system=None,
                      record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens,
                                                       simplify=True))
    return console.export_text()


def rows(table: Any) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def status(screen: Any) -> str:
    return str(screen.query_one("#status").render())
