"""`within`: a teardown that ignores cancellation no longer holds its caller for good."""

from __future__ import annotations

import asyncio
import time

from spotctl_sandbox.common import bounded


async def test_a_teardown_that_swallows_cancellation_is_left_behind_not_waited_for() -> None:
    released = asyncio.Event()

    async def stubborn_stop() -> None:  # as aiokafka's stop waiting on its coordination task
        while not released.is_set():
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue  # swallowed: asyncio.wait_for(stubborn_stop(), t) never returns

    started = time.monotonic()
    assert await bounded.within(stubborn_stop(), 0.2, "a stubborn stop") is False
    assert time.monotonic() - started < 5
    released.set()  # the straggler ends on its own later
    await asyncio.sleep(0.1)
    assert not bounded._abandoned


async def test_work_that_ends_in_time_is_waited_for_whether_it_succeeds_or_fails() -> None:
    async def fine() -> None:
        await asyncio.sleep(0.01)

    async def broken() -> None:
        raise RuntimeError("broker gone")

    assert await bounded.within(fine(), 5, "fine") is True
    assert await bounded.within(broken(), 5, "broken") is True
