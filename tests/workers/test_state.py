"""The health registry: `ok` only when every worker runs; counters and details per worker."""

from spotctl_sandbox.workers.state import Health, WorkerState


def test_status_is_ok_only_when_all_run() -> None:
    health = Health(["schema"])
    health.add("analytics")
    assert health.snapshot()["status"] == "degraded"  # both still starting
    health.set("schema", WorkerState.RUNNING)
    health.set("analytics", WorkerState.WAITING, "kafka unreachable")
    snap = health.snapshot()
    assert snap["status"] == "degraded"
    analytics = snap["workers"]["analytics"]
    assert (analytics["state"], analytics["detail"]) == ("waiting", "kafka unreachable")
    health.set("analytics", WorkerState.RUNNING)
    assert health.snapshot()["status"] == "ok"


def test_counters_add_up_and_add_is_idempotent() -> None:
    health = Health([])
    health.add("delivery")
    health.count("delivery", processed=2, dead_lettered=1)
    health.add("delivery")  # registering again keeps the counts
    health.count("delivery", processed=1, failed=1)
    w = health.snapshot()["workers"]["delivery"]
    assert (w["processed"], w["failed"], w["dead_lettered"]) == (3, 1, 1)


def test_a_running_worker_with_waiting_work_and_no_progress_is_stalled_until_it_progresses() -> None:
    from spotctl_sandbox.workers.state import STALL_S

    health = Health([])
    health.add("analytics")
    health.set("analytics", WorkerState.RUNNING)
    start = 1000.0
    health._workers["analytics"].progressed_at = start  # a pure clock for the test
    assert not health.observe_backlog("analytics", 5, now=start + 1)
    assert not health.observe_backlog("analytics", 5, now=start + STALL_S)  # not yet
    assert health.observe_backlog("analytics", 5, now=start + 1 + STALL_S + 1, why="topics lost")
    worker = health.snapshot()["workers"]["analytics"]
    assert worker["state"] == "stalled" and "5 waiting" in worker["detail"] and "topics lost" in worker["detail"]
    assert health.snapshot()["status"] == "degraded"
    health.count("analytics", processed=1)
    assert health.state("analytics") is WorkerState.RUNNING


def test_no_backlog_is_never_stalled_and_a_waiting_worker_is_not_judged() -> None:
    health = Health([])
    health.add("analytics")
    health.set("analytics", WorkerState.RUNNING)
    assert not health.observe_backlog("analytics", 0, now=1e12)
    health.set("analytics", WorkerState.WAITING, "kafka unreachable")
    assert not health.observe_backlog("analytics", 9, now=1e12)
    assert health.state("analytics") is WorkerState.WAITING
