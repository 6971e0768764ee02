"""`python -m spotctl_sandbox.analytics`: the analytics API and engine on $PORT (default 8100)."""

from __future__ import annotations

import importlib.util
import logging
import sys

import uvicorn

from spotctl_sandbox.analytics.api.app import create_app
from spotctl_sandbox.common.env import Env, EnvError


def main() -> None:
    env = Env()
    logging.basicConfig(level=env.text("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("aiokafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        port = env.port("PORT", 8100)
        app = create_app()
    except EnvError as exc:
        print(f"analytics: bad configuration: {exc}", file=sys.stderr)
        sys.exit(2)
    uvicorn.run(app, host=env.text("HOST", "0.0.0.0"), port=port,
                loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
                http="httptools" if importlib.util.find_spec("httptools") else "h11",
                access_log=False, log_level="warning", timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
