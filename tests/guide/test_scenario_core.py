"""The guide's pure core: parsing with clear errors, templates, progress, reports (no servers)."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from spotctl.guide import catalog, progress, template
from spotctl.guide.model import HttpRequest, Outcome, StepResult, outcome
from spotctl.guide.parse import ScenarioError, parse_text

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """
title: Demo
summary: A demo.
vars:
  email: "me-{{ run }}@example.com"
steps:
  - title: Log in
    text: Logs in.
    action:
      http: {method: POST, path: /api/auth/login, json: {email: "{{ email }}"}}
    capture: {token: body.access_token}
    verify:
      - redis: {key: "session:{{ token }}", ttl_max: 60}
    hint: Try again.
"""


def demo(text: str = MINIMAL) -> Any:
    return parse_text(textwrap.dedent(text), "demo", "demo.yaml")


def error_of(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        demo(text)
    return info.value.message


def test_every_shipped_scenario_parses_in_teaching_order() -> None:
    scenarios = catalog.load_all(ROOT / "scenarios")
    assert [s.name for s in scenarios] == list(catalog.ORDER)
    for s in scenarios:
        assert s.steps and all(step.hint and step.text for step in s.steps), s.name
        assert any(step.checks for step in s.steps), s.name


def test_a_parsed_step_carries_its_action_capture_and_checks() -> None:
    scenario = demo()
    step = scenario.steps[0]
    assert isinstance(step.action, HttpRequest) and step.action.method == "POST"
    assert step.capture == {"token": "body.access_token"}
    assert step.checks[0].kind == "redis" and step.checks[0].within_s == 10.0
    assert scenario.step_capturing("token") == 1


def test_unknown_scenario_names_the_known_ones() -> None:
    from spotctl.errors import UsageError

    with pytest.raises(UsageError) as info:
        catalog.load("nope", ROOT / "scenarios")
    assert "no scenario 'nope'" in info.value.message and "quickstart" in info.value.message
    assert info.value.exit_code == 2


def test_bad_yaml_names_the_line() -> None:
    message = error_of("title: [unclosed\nsummary: x\n")
    assert message.startswith("demo.yaml: line ") and "not valid YAML" in message


def test_a_missing_field_is_named_with_its_step_number() -> None:
    message = error_of(MINIMAL.replace("    hint: Try again.\n", ""))
    assert message == "demo.yaml: steps[1]: 'hint' is a required property"


def test_a_misspelt_check_kind_is_named() -> None:
    message = error_of(MINIMAL.replace("- redis:", "- redsi:"))
    assert message.startswith("demo.yaml: steps[1].verify[1]: ") and "'redsi'" in message


def test_a_check_with_two_kinds_is_refused() -> None:
    bad = MINIMAL.replace('      - redis: {key: "session:{{ token }}", ttl_max: 60}',
                          '      - redis: {key: k}\n        kafka: {topic: t}')
    message = error_of(bad)
    assert "steps[1].verify[1]: a check names exactly one kind" in message and "found redis, kafka" in message


def test_a_wrong_type_names_the_field() -> None:
    message = error_of(MINIMAL.replace("ttl_max: 60", "ttl_max: soon"))
    assert message.startswith("demo.yaml: steps[1].verify[1].redis.ttl_max: 'soon' is not of type 'integer'")


TWO_STEPS = MINIMAL + """
  - title: Who am I
    text: Asks the API.
    action:
      http: {path: /api/auth/me, auth: "{{ tokn }}"}
    hint: Log in first.
"""


def test_a_variable_used_before_it_is_captured_is_refused() -> None:
    assert "steps[2] uses {{ tokn }} but no step captures it" in error_of(TWO_STEPS)
    early = MINIMAL.replace('json: {email: "{{ email }}"}', 'json: {email: "{{ email }}", t: "{{ later }}"}')
    early += TWO_STEPS[len(MINIMAL):].replace("action:", "capture: {later: body.id}\n    action:")
    assert "steps[1] uses {{ later }} but it is captured only by step 2" in error_of(early)


def test_name_must_match_the_file() -> None:
    assert "differs from the file name" in error_of("name: other\n" + MINIMAL)


def test_a_whole_template_keeps_the_type_and_text_interpolates() -> None:
    values = {"song_id": 42, "user": {"id": "7", "tags": ["a", "b"]}}
    assert template.render({"ids": ["{{ song_id }}"], "path": "/songs/{{ song_id }}/play"}, values) == {
        "ids": [42], "path": "/songs/42/play"}
    assert template.render("{{ user.tags.1 }}-{{user.id}}", values) == "b-7"
    with pytest.raises(template.MissingValue) as info:
        template.render("{{ token }}", values)
    assert info.value.name == "token"


def test_lookup_walks_dicts_and_lists() -> None:
    answer = {"body": {"items": [{"song_id": 3}], "job": {"id": "9"}}}
    assert template.lookup(answer, "body.items.0.song_id") == 3
    assert template.lookup(answer, "body.job.id") == "9"
    with pytest.raises(template.MissingValue):
        template.lookup(answer, "body.items.1")


def result(number: int, outcome: Outcome) -> StepResult:
    return StepResult(number, f"step {number}", outcome, 0.1)


def test_progress_counts_passed_steps_and_remembers_a_failure() -> None:
    p = progress.Progress()
    assert p.label(3) == "not started" and p.next_step(3) == 1
    p = p.after(result(1, Outcome.passed), {"token": "t"}, 1.0)
    p = p.after(result(2, Outcome.failed), {"token": "t"}, 2.0)
    assert p.label(3) == "1/3, step 2 failed" and p.next_step(3) == 2
    p = p.after(result(2, Outcome.passed), {}, 3.0).after(result(3, Outcome.passed), {}, 4.0)
    assert p.label(3) == "done" and p.next_step(3) is None
    assert progress.Progress.from_json(p.as_json()) == p


def test_step_one_starts_afresh_and_later_steps_reuse_captures() -> None:
    scenario = demo()
    now = dt.datetime(2026, 3, 4, 5, 6, tzinfo=dt.UTC)
    fresh = progress.start_variables(scenario, progress.Progress(variables={"token": "old"}), 1, now)
    assert fresh["email"] == f"me-{fresh['run']}@example.com" and "token" not in fresh
    assert fresh["today"] == "2026-03-04" and fresh["yesterday"] == "2026-03-03"
    two = demo(TWO_STEPS.replace("{{ tokn }}", "{{ token }}"))
    assert progress.start_variables(two, progress.Progress(variables={"token": "old"}), 2, now) == {"token": "old"}
    from spotctl.errors import UsageError

    with pytest.raises(UsageError):
        progress.start_variables(two, progress.Progress(), 3, now)


def test_progress_survives_in_the_state_dir(tmp_path: Path) -> None:
    p = progress.Progress(passed=frozenset({1}), variables={"token": "t"})
    progress.save(tmp_path, "demo", p)
    assert progress.load(tmp_path, "demo") == p
    progress.save(tmp_path, "demo", None)
    assert progress.load(tmp_path, "demo") == progress.Progress()
    progress.path(tmp_path).write_text("{not json")
    assert progress.load_all(tmp_path) == {}


def test_a_step_run_before_its_inputs_were_captured_says_which_step_to_run(tmp_path: Path) -> None:
    from spotctl.endpoints import Endpoints
    from spotctl.guide.runner import Runner, StepProblem

    scenario = demo(TWO_STEPS.replace("{{ tokn }}", "{{ token }}"))
    runner = Runner(scenario, Endpoints(env={}), tmp_path)
    with pytest.raises(StepProblem) as info:
        runner._render(scenario.steps[1].action, {"run": "r1"}, 2)
    assert str(info.value) == "no value for {{ token }}; run step 1 first: spotctl scenario run demo --step 1"


async def test_kafka_down_is_one_line_in_the_step_result(tmp_path: Path) -> None:
    import socket

    from spotctl.endpoints import Endpoints
    from spotctl.guide.runner import Runner
    from spotctl.guide.stores import Stores

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    scenario = demo(MINIMAL.replace("""    action:
      http: {method: POST, path: /api/auth/login, json: {email: "{{ email }}"}}
    capture: {token: body.access_token}
    verify:
      - redis: {key: "session:{{ token }}", ttl_max: 60}""", """    verify:
      - kafka: {topic: song_played}"""))
    endpoints = Endpoints(env={"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"})
    async with Stores(endpoints) as stores:
        result, _ = await Runner(scenario, endpoints, tmp_path).run_step(stores, 1, {"run": "r"})
    assert result.outcome is Outcome.error
    assert result.error.startswith("could not read kafka before the action") and "spotctl health" in result.error


def test_a_failed_check_prints_its_hint_and_the_command_to_look_with() -> None:
    from spotctl.guide import report
    from spotctl.guide.model import CheckResult

    failed = StepResult(3, "Play a song", Outcome.failed, 1.5, "POST /api/songs/42/play", "200 {...}",
                        (CheckResult("job", "BullMQ job 7 on queue recently-played is completed", False,
                                     "job is waiting", look="spotctl jobs failed recently-played"),),
                        hint="Is a worker running? `spotctl up workers`")
    lines = report.result_lines(failed)
    text = "\n".join(line.plain for line in lines)
    assert "FAIL BullMQ job 7" in text and "job is waiting" in text
    assert "spotctl jobs failed recently-played" in text and "Is a worker running?" in text
    assert text.splitlines()[-1].strip().startswith("FAIL") and lines[-1].spans[0].style == "bold red"


def test_show_prints_every_steps_text_and_checks(cli: Any) -> None:
    done = cli("scenario", "show", "quickstart")
    assert done.returncode == 0, done.stderr
    assert "Step 1/5 · Register a user" in done.stdout and "Step 5/5" in done.stdout
    assert "verify: kafka topic song_played got a record" in done.stdout
    shown = json.loads(cli("scenario", "show", "search", "-o", "json").stdout)
    assert [s["title"] for s in shown["steps"]] == ["Search (a cache miss)", "Search again (cache hit)"]


def test_show_wraps_text_and_checks_at_any_width_with_real_values(cli: Any) -> None:
    """Paragraphs and list items wrap instead of running off (or being cut at) the edge; a check's SQL is
    whole, with its parameters where `%s` stood."""
    done = cli("scenario", "show", "quickstart", env={"COLUMNS": "60"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 60 and not any(line.endswith(" ") for line in lines)
    words = " ".join(done.stdout.split())
    assert "queues a BullMQ job update_recently_played on recently-played (a worker runs it)," in words
    assert ("verify: postgres: SELECT user_id, song_id, played_at FROM listening_history WHERE user_id = "
            "{{ user_id }} AND song_id = {{ song_id }} returns ≥ 1 row(s)") in words
    assert "%s" not in done.stdout


def test_a_checks_sql_shows_its_values() -> None:
    from spotctl.guide.checks.postgres import KIND

    spec = {"sql": "SELECT 1 FROM t WHERE a = %s AND b = %s AND c LIKE 'x%%' AND d = %s", "params": ["o'k", 7, None]}
    assert KIND.describe(spec) == ("postgres: SELECT 1 FROM t WHERE a = 'o''k' AND b = 7 AND c LIKE 'x%' "
                                   "AND d = NULL returns ≥ 1 row(s)")


def test_reset_forgets_progress(cli: Any, stack_settings: Path) -> None:
    progress.save(stack_settings, "search", progress.Progress(passed=frozenset({1, 2})))
    listed = {s["name"]: s["progress"] for s in json.loads(cli("scenario", "list", "-o", "json").stdout)}
    assert listed["search"] == "done"
    done = cli("scenario", "reset", "search")
    assert done.returncode == 0 and "search: progress reset" in done.stderr
    listed = {s["name"]: s["progress"] for s in json.loads(cli("scenario", "list", "-o", "json").stdout)}
    assert listed["search"] == "not started"


def test_the_plan_runs_from_a_step_to_the_end_or_just_that_step() -> None:
    from spotctl.errors import UsageError

    assert list(progress.plan(5, 1, only=False)) == [1, 2, 3, 4, 5]
    assert list(progress.plan(5, 3, only=True)) == [3]
    with pytest.raises(UsageError):
        progress.plan(5, 6, only=False)
    from spotctl.guide.model import CheckResult

    ok, bad = CheckResult("redis", "a", True), CheckResult("redis", "b", False)
    assert outcome([ok, ok]) is Outcome.passed and outcome([ok, bad]) is Outcome.failed


def test_expectations_compare_numbers_by_value_and_take_bounds() -> None:
    assert template.same(0, 0.0) and template.same("42", 42) and not template.same(True, 1)
    reply = {"position_now_ms": 60412.5, "playing": True}
    assert template.matches({"position_now_ms": {">=": 60000, "<": 70000}, "playing": True}, reply)
    assert not template.matches({"position_now_ms": {">": 60500}}, reply)
    assert not template.matches({"playing": {">": 0}}, reply)  # a bool is not a number here
    assert template.matches({"nested": {"a": 1}}, {"nested": {"a": 1}})  # a plain mapping stays a pattern


HUB_STEP = """
title: Hub
summary: Two users.
requires: [hub]
vars: {alice: "alice-{{ run }}"}
steps:
  - title: Create
    text: Creates.
    action:
      hub: {as: "{{ alice }}", send: channel_create, content: {kind: public, name: x}, expect: {channel.name: x}}
    capture: {channel_id: reply.channel.id}
    verify:
      - hub: {user: "{{ alice }}", type: presence}
    hint: Try again.
  - title: Both
    text: At once.
    action:
      hub:
        together: true
        do:
          - {as: "{{ alice }}", edit: {playlist_id: p, insert: [a]}}
          - {notify: "{{ alice }}", priority: HIGH, title: hi}
          - {as: bob, send: channel_join, content: {channel_id: "{{ channel_id }}"}, error: forbidden}
    hint: Try again.
"""


def test_hub_actions_parse_describe_and_judge_their_replies() -> None:
    from spotctl.guide import hub_actions
    from spotctl.guide.model import HubAction, Service

    scenario = demo(HUB_STEP)
    assert scenario.requires == (Service.hub,)
    first, both = (s.action for s in scenario.steps)
    assert isinstance(first, HubAction) and isinstance(both, HubAction) and both.together
    assert hub_actions.describe(first) == '{{ alice }} → channel_create {"kind":"public","name":"x"}'
    assert hub_actions.describe(both).startswith("at once: {{ alice }} edits playlist p: insert [\"a\"] at 0; "
                                                 "backend notifies {{ alice }} (HIGH): hi; bob → channel_join")

    def answer(*ops: dict[str, Any]) -> dict[str, Any]:
        return {"ops": list(ops), "reply": ops[-1]["reply"]}

    ok = {"reply": {"channel": {"name": "x"}}, "error": None}
    assert hub_actions.failure(first, answer(ok)) is None
    wrong = hub_actions.failure(first, answer({"reply": {"channel": {"name": "y"}}, "error": None}))
    assert wrong is not None and "the reply has no" in wrong
    refused = hub_actions.failure(first, answer({"reply": None, "error": {"code": "unavailable", "message": "pg"}}))
    assert refused is not None and "the hub refused: unavailable: pg" in refused
    forbidden = {"reply": None, "error": {"code": "forbidden", "message": "members only"}}
    assert hub_actions.failure(both, answer({"reply": {}, "error": None}, {"reply": {}, "error": None}, forbidden)) \
        is None
    allowed = hub_actions.failure(both, answer({"reply": {}, "error": None}, {"reply": {}, "error": None},
                                               {"reply": {"channel": {}}, "error": None}))
    assert allowed is not None and "expected the hub to answer forbidden" in allowed


def test_a_hub_op_that_mixes_kinds_is_refused() -> None:
    assert "steps[1].action.hub" in error_of(MINIMAL.replace(
        "http: {method: POST, path: /api/auth/login, json: {email: \"{{ email }}\"}}",
        "hub: {as: x, send: ping, disconnect: true}"))


async def test_a_check_that_waits_shows_a_spinner_on_a_terminal_only(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from spotctl.commands.scenario import StepDisplay
    from spotctl.endpoints import Endpoints
    from spotctl.guide.runner import CheckWaiting, Runner, StepFinished
    from spotctl.guide.stores import Stores

    scenario = demo(f"""
    title: Demo
    summary: A demo.
    steps:
      - title: Wait for a report
        text: The worker writes it.
        verify:
          - file: {{path: "{tmp_path / 'report.html'}"}}
            within: 0.3
        hint: Is a worker running?
    """)
    events: list[Any] = []
    endpoints = Endpoints(env={})
    async with Stores(endpoints) as stores:
        result, _ = await Runner(scenario, endpoints, tmp_path, events.append).run_step(stores, 1, {"run": "r"})
    events.append(StepFinished(result))
    assert [type(e) for e in events] == [CheckWaiting, StepFinished]
    assert events[0].within_s == 0.3 and "report.html exists" in events[0].description

    for tty in (True, False):
        screen = io.StringIO()
        display = StepDisplay(Console(file=screen, force_terminal=tty, width=100), tty)
        for event in events:
            display.show(event)
        assert ("waiting up to 0.3 s: file" in screen.getvalue()) is tty and display.status is None
