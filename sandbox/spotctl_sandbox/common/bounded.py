"""Wait for a teardown at most so long, even when it ignores cancellation.

`asyncio.wait_for` cancels on timeout and then waits for the cancellation to finish: it hangs for
good when the awaited code swallows it. aiokafka's consumer `stop()` waits on its coordination task,
which can go on retrying a broker that just restarted, so a consumer rebuilt with
`wait_for(old.stop(), 10)` stayed stuck for good, applying nothing. `within` gives up waiting
instead and leaves the straggler to finish (or not) on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger(__name__)

_abandoned: set[asyncio.Future[Any]] = set()  # held so a straggler is not garbage-collected mid-flight


async def within(work: Awaitable[Any], timeout_s: float, what: str) -> bool:
    """True when `work` ended (well or not) within `timeout_s`; else it is cancelled and left behind."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if done:
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s failed: %r", what, task.exception())
        return True
    log.warning("%s did not end within %gs; left behind", what, timeout_s)
    task.cancel()
    _abandoned.add(task)
    task.add_done_callback(_forget)
    return False


def _forget(task: asyncio.Future[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a straggler's late error is not worth a warning at exit
