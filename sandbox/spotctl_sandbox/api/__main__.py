"""`python -m spotctl_sandbox.api`: uvicorn on $BIND_HOST:$PORT (default 127.0.0.1:8000), uvloop +
httptools when present. Refuses to start with development secrets outside development mode."""

from __future__ import annotations

import importlib.util
import logging
import sys

import uvicorn

from spotctl_sandbox.api.app import create_app
from spotctl_sandbox.api.config import ApiConfig
from spotctl_sandbox.common import logs
from spotctl_sandbox.common.env import Env, EnvError
from spotctl_sandbox.common.logredact import RedactTokens
from spotctl_sandbox.common.settings import InsecureSettings


def main() -> None:
    env = Env()
    logs.setup("api", env.text("LOG_LEVEL", "INFO"))
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactTokens())
    try:
        port = env.port("PORT", 8000)
        config = ApiConfig.from_env(env)
        config.refuse_insecure()
        app = create_app(config)
    except EnvError as exc:
        print(f"api: bad configuration: {exc}", file=sys.stderr)
        sys.exit(2)
    except InsecureSettings as exc:
        print(f"api: refusing to start: {exc}", file=sys.stderr)
        sys.exit(2)
    uvicorn.run(app, host=config.settings.bind_host, port=port,
                loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
                http="httptools" if importlib.util.find_spec("httptools") else "h11",
                access_log=False, log_level="warning", timeout_graceful_shutdown=5,
                log_config=None)  # our JSON lines (common.logs), not uvicorn's own formats


if __name__ == "__main__":
    main()
