"""The hub's activity events on Kafka (`hub_activity`): every interval, one produce per worker with
one event per tenant it saw (core.activity counts; this sends).

Kafka being away costs that interval's events (logged once per outage), never the hub: the
producer is retried at the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka.errors import KafkaError

from spotctl_sandbox.events.kafka import EventProducer

from .core.activity import Activity

log = logging.getLogger("spotctl_sandbox.hub")

TOPIC = "hub_activity"


class ActivityReporter:
    def __init__(self, activity: Activity, bootstrap_servers: str, interval_s: float) -> None:
        self.activity, self.interval_s = activity, interval_s
        self.producer = EventProducer(bootstrap_servers, client_id=f"hub-{activity.worker}", timeout_s=5.0,
                                      retry_interval_s=interval_s)
        self._task: asyncio.Task[None] | None = None
        self._down = False

    def start(self) -> None:
        if self.interval_s > 0:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            with contextlib.suppress(TimeoutError):  # the last partial interval, if Kafka takes it soon
                await asyncio.wait_for(self.report(), 2.0)
        await self.producer.close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.report()

    async def report(self) -> int:
        """Send what was counted since the last report; the number of events sent."""
        events = self.activity.events(int(time.time() * 1000))
        try:  # sent together: the producer batches what is in flight at once
            await asyncio.gather(*(self.producer.send(TOPIC, event, key=event["tenant"]) for event in events))
        except (KafkaError, OSError) as exc:
            if not self._down:
                log.warning("hub activity not sent to Kafka (%s); retrying every %g s", exc, self.interval_s)
            self._down = True
            return 0
        if self._down:
            log.info("hub activity reaches Kafka again")
        self._down = False
        return len(events)
