"""Where the project and its state live.

The project dir is found from SPOTCTL_PROJECT_DIR, else by walking up from the working directory to
the folder holding `compose/compose.yaml`, else the source checkout this package was installed from.
State (pids, logs, data, certs) goes to SPOTCTL_STATE_DIR or `<project>/.spotctl`: one per project.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spotctl.errors import SpotctlError
from spotctl_sandbox.common.env import Env

COMPOSE_RELATIVE = Path("compose") / "compose.yaml"


@dataclass(frozen=True)
class Project:
    root: Path
    state_dir: Path

    @property
    def compose_file(self) -> Path:
        return self.root / COMPOSE_RELATIVE

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def certs_dir(self) -> Path:
        return self.state_dir / "certs"

    def volume_dir(self, volume: str) -> Path:
        return self.data_dir / "volumes" / volume


def _find_root() -> Path:
    env = Env().optional("SPOTCTL_PROJECT_DIR")
    if env:
        root = Path(env).expanduser().resolve()
        if not (root / COMPOSE_RELATIVE).is_file():
            raise SpotctlError(f"SPOTCTL_PROJECT_DIR={env} holds no {COMPOSE_RELATIVE}")
        return root
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / COMPOSE_RELATIVE).is_file():
            return candidate
    source = Path(__file__).resolve().parents[2]  # cli/spotctl/project.py -> checkout root
    if (source / COMPOSE_RELATIVE).is_file():
        return source
    raise SpotctlError("no spotctl project found (compose/compose.yaml)",
                       hint="cd into the spotctl checkout, or set SPOTCTL_PROJECT_DIR")


def current() -> Project:
    root = _find_root()
    state = Env().optional("SPOTCTL_STATE_DIR")
    return Project(root=root, state_dir=Path(state).expanduser().resolve() if state else root / ".spotctl")


def import_loadtests() -> Any:
    """The checkout's `loadtests` package (it lives beside the CLI, not installed with it): what `spotctl
    load` and the TUI's load screen run."""
    import importlib
    import sys

    root = current().root
    if not (root / "loadtests" / "run.py").is_file():
        raise SpotctlError(f"no loadtests/ folder under {root}", hint="run spotctl from the project checkout")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module("loadtests")
