"""Every BullMQ job the stack enqueues keeps being retried through a store restart of ~30 s."""

from __future__ import annotations

from spotctl_sandbox import contract as names

OUTAGE_S = 30.0


def test_the_apis_play_jobs_outlive_a_30s_store_restart() -> None:
    from spotctl_sandbox.api.resources import JOB_OPTIONS

    assert names.retry_window_s(JOB_OPTIONS) >= OUTAGE_S


def test_the_workers_jobs_outlive_a_30s_store_restart() -> None:
    assert names.retry_window_s(names.job_options()) >= OUTAGE_S
    assert names.retry_window_s(names.job_options(priority=names.PRIORITY_PUSH)) >= OUTAGE_S


def test_the_window_is_the_sum_of_the_backoff_delays() -> None:
    assert names.retry_window_s({"attempts": 3, "backoff": {"type": "exponential", "delay": 1000}}) == 3.0
    assert names.retry_window_s({"attempts": 4, "backoff": {"type": "fixed", "delay": 500}}) == 1.5
    assert names.retry_window_s({}) == 0.0
