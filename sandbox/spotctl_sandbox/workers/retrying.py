"""Backoff for reaching dependencies: the process starts anyway and keeps trying (tenacity).

While a dependency is down the worker shows `waiting` with the last error in /health; once the
dependency answers again the worker carries on, with no restart.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from spotctl_sandbox.workers.state import Health, WorkerState

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Errors that mean "the other side is not there (yet)", as raised by our clients.
TRANSIENT: tuple[type[BaseException], ...] = (OSError, TimeoutError, ConnectionError)


def transient_errors() -> tuple[type[BaseException], ...]:
    """Connection-level errors of every client we use; anything else is a bug, not an outage."""
    import aiokafka.errors
    import aiormq.exceptions
    import psycopg
    import psycopg_pool
    import redis.exceptions

    return (*TRANSIENT, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
            psycopg.OperationalError, psycopg_pool.PoolTimeout, aiormq.exceptions.AMQPConnectionError,
            aiokafka.errors.KafkaConnectionError, aiokafka.errors.NoBrokersAvailable,
            aiokafka.errors.KafkaTimeoutError, aiokafka.errors.RequestTimedOutError)


async def until_ready(health: Health, workers: str | Sequence[str], what: str,
                      attempt: Callable[[], Awaitable[T]], max_wait_s: float = 10.0,
                      also: tuple[type[BaseException], ...] = ()) -> T:
    """Call `attempt` until it succeeds, backing off 0.5 s → `max_wait_s` on transient errors
    (and on the errors `also` names, transient where the caller knows better).

    Every worker named in `workers` shows `waiting` meanwhile (several share one connection).
    """
    names = [workers] if isinstance(workers, str) else list(workers)

    def report(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        detail = f"{what} unreachable ({type(exc).__name__}: {exc}); retry #{state.attempt_number}"
        for name in names:
            health.set(name, WorkerState.WAITING, detail)
        log.warning("%s: %s", "/".join(names), detail)

    retrying = AsyncRetrying(
        wait=wait_exponential_jitter(initial=0.5, max=max_wait_s),
        retry=retry_if_exception_type((*transient_errors(), *also)),
        before_sleep=report,
        reraise=True,
    )
    async def call() -> T:  # tenacity runs non-coroutine callables synchronously: await explicitly
        return await attempt()

    result: T = await retrying(call)
    return result
