"""The pause figures a hub worker and a load generator report (common/pauses.py): real collections,
real timers."""

from __future__ import annotations

import gc
import time

from spotctl_sandbox.common.pauses import GcPauses, Tally, lateness


def test_every_collection_is_timed_with_its_generation_until_uninstalled() -> None:
    seen: list[tuple[int, float]] = []
    watch = GcPauses(lambda generation, seconds: seen.append((generation, seconds))).install()
    watch.install()  # twice is once
    try:
        gc.collect()
        gc.collect(0)
    finally:
        watch.uninstall()
    assert [g for g, _ in seen] == [2, 0]
    assert all(0 <= s < 5 for _, s in seen)
    gc.collect()
    assert len(seen) == 2


def test_a_tally_counts_long_pauses_and_hands_out_its_longest_once() -> None:
    tally = Tally(long_s=0.02)
    for s in (0.001, 0.03, 0.02, 0.005):
        tally.add(s)
    assert (tally.count, tally.long, round(tally.seconds, 3)) == (4, 2, 0.056)
    assert tally.take_max() == 0.03 and tally.take_max() == 0.0


def test_a_timer_blocked_by_other_work_is_late_by_about_that_long() -> None:
    due = time.monotonic() + 0.01
    time.sleep(0.05)  # the "loop" was busy past the timer
    assert 0.03 < lateness(due, time.monotonic()) < 5
    assert lateness(time.monotonic() + 1, time.monotonic()) == 0.0
