"""`spotctl scenario` against the real test stack: every step's action runs and its checks hold."""

from __future__ import annotations

import json
import os
import socket
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spotctl.guide import catalog

pytestmark = pytest.mark.stack

Cli = Callable[..., Any]
# every shipped flow but the tour, and analytics: tests/analytics/test_scenario.py runs it on the analytics
# service with a short lateness (its last step waits for a minute to close)
FLOWS = tuple(name for name in catalog.ORDER if name not in ("quickstart", "analytics"))


@pytest.fixture(scope="module")
def seeded(stack: Any, cli: Cli) -> dict[str, str]:
    stack.up("api", "workers", "hub")
    env = {**os.environ, **stack.env}
    done = cli("seed", "--songs", "200", env=env)
    assert done.returncode == 0, done.stderr
    return env


def run_json(cli: Cli, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    done = cli("scenario", "run", *args, "--yes", "--output", "json", env=env)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_quickstart_passes_every_step_and_records_progress(cli: Cli, seeded: dict[str, str]) -> None:
    code, report = run_json(cli, seeded, "quickstart")
    assert code == 0, json.dumps(report, indent=1)
    assert report["passed"] and report["progress"] == "done"
    assert [s["outcome"] for s in report["steps"]] == ["pass"] * 5
    play = report["steps"][2]
    kinds = {c["kind"] for c in play["checks"]}
    assert kinds == {"redis", "kafka", "job"} and all(c["ok"] for c in play["checks"])
    assert play["captured"]["job_id"]
    took = {s["title"]: s["duration_s"] for s in report["steps"]}
    print(f"quickstart: {sum(took.values()):.2f} s", took)
    assert sum(took.values()) < 60, took  # "a tour of the stack in a minute"
    listed = json.loads(cli("scenario", "list", "-o", "json", env=seeded).stdout)
    assert {s["name"]: s["progress"] for s in listed}["quickstart"] == "done"


def test_a_later_step_reuses_what_earlier_steps_captured(cli: Cli, seeded: dict[str, str]) -> None:
    assert run_json(cli, seeded, "quickstart")[0] == 0
    code, report = run_json(cli, seeded, "quickstart", "--step", "4", "--only")
    assert code == 0, report
    assert [s["step"] for s in report["steps"]] == [4]  # used the token and user id of the run before


@pytest.mark.parametrize("name", FLOWS)
def test_each_flow_of_the_seed_passes(cli: Cli, seeded: dict[str, str], name: str) -> None:
    code, report = run_json(cli, seeded, name)
    failed = [s for s in report["steps"] if s["outcome"] != "pass"]
    assert code == 0 and not failed, json.dumps(failed, indent=1)


def test_the_table_output_teaches_and_shows_pass_per_check(cli: Cli, seeded: dict[str, str]) -> None:
    assert run_json(cli, seeded, "search")[0] == 0
    done = cli("scenario", "run", "search", "--yes", env=seeded)  # a second run within the cache's 5 minutes
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Step 1/2 · Search (a cache miss)" in done.stdout and "PASS redis key search:" in done.stdout
    first, second = done.stdout.split("Step 2/2")
    assert '"cached": false' in first and '"cached": true' in second  # the miss is a miss on every run
    assert "look for yourself: spotctl redis keys" in done.stdout


async def test_a_check_that_does_not_hold_fails_with_its_hint(stack: Any, seeded: dict[str, str],
                                                              tmp_path: Path) -> None:
    from spotctl.endpoints import Endpoints
    from spotctl.guide.model import Outcome
    from spotctl.guide.parse import parse_text
    from spotctl.guide.runner import Runner

    scenario = parse_text(textwrap.dedent("""
        title: Never
        summary: A key nobody writes.
        steps:
          - title: Look for a key that is not there
            text: Reads the song, then looks for a key the API never writes.
            action:
              http: {path: /api/songs/3}
            verify:
              - redis: {key: "song:3"}
              - redis: {key: "scenario-test:nobody-writes-{{ run }}"}
                within: 0.5
            hint: There is nothing to fix; this step must fail.
    """), "never", "never.yaml")
    results = await Runner(scenario, Endpoints(env=stack.env), tmp_path).run()
    assert len(results) == 1 and results[0].outcome is Outcome.failed
    assert [c.ok for c in results[0].checks] == [True, False]
    assert (results[0].checks[1].look or "").startswith("spotctl redis get scenario-test:nobody-writes-")
    assert results[0].hint == "There is nothing to fix; this step must fail."


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unknown_scenario_is_a_usage_error_listing_the_names(cli: Cli) -> None:
    done = cli("scenario", "run", "nope")
    assert done.returncode == 2
    assert "no scenario 'nope'; known: quickstart, play" in done.stderr and "Traceback" not in done.stderr


def test_api_down_is_one_line_with_the_up_hint(cli: Cli) -> None:
    done = cli("scenario", "run", "search", "--yes", env={"API_URL": f"http://127.0.0.1:{closed_port()}"})
    assert done.returncode == 1
    assert "api is not reachable at http://127.0.0.1:" in done.stderr and "spotctl up api" in done.stderr
    assert "Traceback" not in done.stderr
