"""`python -m spotctl_sandbox.workers`: every worker, the sinks and /health in one process."""

from __future__ import annotations

import asyncio
import logging
import sys

from spotctl_sandbox.common import logs
from spotctl_sandbox.common.startup import configuration
from spotctl_sandbox.workers.config import WorkerConfig
from spotctl_sandbox.workers.runner import Runner


def main() -> int:
    logs.setup("workers", quiet=("aiokafka", "aiormq", "aio_pika", "httpx", "mail.log"))
    # The pool logs every failed reconnect; the workers' own retry lines already say what is down.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    with configuration("workers"):
        config = WorkerConfig.from_env()

    async def run() -> None:
        await Runner(config).serve()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
