"""Smoke runs of the load scenarios through `spotctl load run`, against the test session's stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPOTCTL = Path(sys.executable).with_name("spotctl")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `loadtests` lives in the checkout, beside the CLI


@dataclass(frozen=True)
class LoadRun:
    code: int
    summary: dict[str, Any]
    results: Path
    stderr: str

    def stats(self) -> dict[str, dict[str, str]]:
        """Locust's own per-request CSV, by request name."""
        import csv

        with (self.results / "locust_stats.csv").open() as f:
            return {row["Name"]: row for row in csv.DictReader(f)}


@pytest.fixture
def load_run(stack: Any, tmp_path: Path) -> Callable[..., LoadRun]:
    def run(*args: str, timeout: float = 90) -> LoadRun:
        results = tmp_path / "results"
        proc = subprocess.run([str(SPOTCTL), "load", "run", *args, "--results", str(results), "-o", "json"],
                              env={**os.environ, **stack.env}, capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT)
        summary = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
        return LoadRun(proc.returncode, summary, results, proc.stderr)

    return run
