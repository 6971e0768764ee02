"""The supervisor's rules, without processes: policy, backoff, crash loop, giving up."""

from __future__ import annotations

import pytest

from spotctl.stack.supervision import (
    BACKOFF_MAX_S,
    CRASH_LOOP_AFTER,
    STABLE_S,
    Exit,
    Mode,
    Record,
    RestartPolicy,
    backoff,
    from_json,
    on_exit,
    on_restart,
    on_stable,
    summary,
    to_json,
)


def crash(at: float = 100.0, code: int | None = 1, uptime: float = 1.0) -> Exit:
    return Exit(at=at, code=code, uptime_s=uptime, last_line="FATAL: bad config")


@pytest.mark.parametrize(("text", "policy"), [
    ("no", RestartPolicy(Mode.no)), ("always", RestartPolicy(Mode.always)),
    ("unless-stopped", RestartPolicy(Mode.unless_stopped)), ("on-failure", RestartPolicy(Mode.on_failure)),
    ("on-failure:3", RestartPolicy(Mode.on_failure, 3)),
])
def test_compose_restart_values_parse(text: str, policy: RestartPolicy) -> None:
    assert RestartPolicy.parse(text) == policy
    assert str(RestartPolicy.parse(text)) == text


@pytest.mark.parametrize("text", ["sometimes", "always:3", "on-failure:x", ""])
def test_a_bad_restart_value_names_the_valid_ones(text: str) -> None:
    with pytest.raises(ValueError, match="on-failure"):
        RestartPolicy.parse(text)


def test_backoff_doubles_from_half_a_second_up_to_a_cap() -> None:
    assert [backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert backoff(30) == BACKOFF_MAX_S


def test_a_crash_is_restarted_after_the_backoff_and_counted() -> None:
    record = on_exit(RestartPolicy(Mode.unless_stopped), Record(), crash(at=100.0))
    assert record.next_start_at == 100.5 and record.quick_failures == 1
    restarted = on_restart(record, now=100.5)
    assert restarted.restarts == 1 and restarted.next_start_at is None


def test_quick_crashes_in_a_row_become_a_crash_loop_that_is_still_retried() -> None:
    policy, record = RestartPolicy(Mode.always), Record()
    for i in range(CRASH_LOOP_AFTER):
        assert not record.crash_loop
        record = on_restart(on_exit(policy, record, crash(at=100.0 + i)), now=100.0 + i)
    assert record.crash_loop
    looping = on_exit(policy, record, crash(at=200.0))
    assert looping.next_start_at is not None  # reported, not abandoned
    assert "CRASH LOOP" in summary(looping, now=200.0)


def test_a_stable_run_resets_the_backoff() -> None:
    policy, record = RestartPolicy(Mode.always), Record(quick_failures=4)
    assert on_stable(record).quick_failures == 0
    long_run = on_exit(policy, record, crash(at=100.0, uptime=STABLE_S + 1))
    assert long_run.next_start_at == 100.5


def test_policy_no_and_a_clean_exit_under_on_failure_are_not_restarted() -> None:
    assert on_exit(RestartPolicy(Mode.no), Record(), crash()).next_start_at is None
    clean = on_exit(RestartPolicy(Mode.on_failure), Record(), crash(code=0))
    assert clean.next_start_at is None and "exited cleanly" in clean.gave_up
    assert on_exit(RestartPolicy(Mode.always), Record(), crash(code=0)).next_start_at is not None


def test_on_failure_with_a_maximum_gives_up_and_says_so() -> None:
    policy, record = RestartPolicy(Mode.on_failure, 2), Record()
    for i in range(2):
        record = on_restart(on_exit(policy, record, crash(at=100.0 + i)), now=100.0 + i)
    final = on_exit(policy, record, crash(at=110.0))
    assert final.next_start_at is None and "gave up after 2 restarts" in final.gave_up


def test_exit_reasons_name_the_signal_or_the_code_with_the_last_log_line() -> None:
    assert crash(code=-9).reason == "killed by SIGKILL"
    assert crash(code=1).reason == "exit code 1: FATAL: bad config"
    assert crash(code=None).reason.startswith("exited (exit status unknown")


def test_the_record_survives_its_json_form() -> None:
    record = on_restart(on_exit(RestartPolicy(Mode.always), Record(), crash(code=-15)), now=101.0)
    assert from_json(to_json(record)) == record
    assert from_json({}) == Record()
