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
