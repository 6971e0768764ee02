"""`python -m spotctl_sandbox.api`: uvicorn on $BIND_HOST:$PORT (default 127.0.0.1:8000), uvloop +
httptools when present. Refuses to start with development secrets outside development mode."""

from __future__ import annotations

from spotctl_sandbox.api.app import create_app
from spotctl_sandbox.api.config import ApiConfig
from spotctl_sandbox.common import logs
from spotctl_sandbox.common.env import Env
from spotctl_sandbox.common.startup import configuration, serve_asgi


def main() -> None:
    env = Env()
    logs.setup("api", env.text("LOG_LEVEL", "INFO"))
    with configuration("api"):
        port = env.port("PORT", 8000)
        config = ApiConfig.from_env(env)
        config.refuse_insecure()
        app = create_app(config)
    serve_asgi(app, config.settings.bind_host, port)


if __name__ == "__main__":
    main()
