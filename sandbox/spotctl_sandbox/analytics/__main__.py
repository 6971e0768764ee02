"""`python -m spotctl_sandbox.analytics`: the analytics API and engine on $PORT (default 8100)."""

from __future__ import annotations

import importlib.util
import logging
import os

import uvicorn

from spotctl_sandbox.analytics.api.app import create_app


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("aiokafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    port = int(os.environ.get("PORT") or 8100)
    uvicorn.run(create_app(), host=os.environ.get("HOST", "0.0.0.0"), port=port,
                loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
                http="httptools" if importlib.util.find_spec("httptools") else "h11",
                access_log=False, log_level="warning", timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
