"""`python -m spotctl_sandbox.analytics`: the analytics API and engine on $BIND_HOST:$PORT (default
127.0.0.1:8100). Refuses to start with development secrets outside development mode."""

from __future__ import annotations

import importlib.util
import logging
import sys

import uvicorn

from spotctl_sandbox.analytics.api.app import create_app
from spotctl_sandbox.analytics.config import AnalyticsConfig
from spotctl_sandbox.common.env import Env, EnvError
from spotctl_sandbox.common.logredact import RedactTokens
from spotctl_sandbox.common.settings import InsecureSettings, refuse_insecure


def main() -> None:
    env = Env()
    logging.basicConfig(level=env.text("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactTokens())
    for noisy in ("aiokafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        port = env.port("PORT", 8100)
        config = AnalyticsConfig.from_env(env)
        refuse_insecure(config.settings)
        app = create_app(config)
    except EnvError as exc:
        print(f"analytics: bad configuration: {exc}", file=sys.stderr)
        sys.exit(2)
    except InsecureSettings as exc:
        print(f"analytics: refusing to start: {exc}", file=sys.stderr)
        sys.exit(2)
    uvicorn.run(app, host=config.settings.bind_host, port=port,
                loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
                http="httptools" if importlib.util.find_spec("httptools") else "h11",
                access_log=False, log_level="warning", timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
