"""`python -m spotctl_sandbox.analytics`: the analytics API and engine on $BIND_HOST:$PORT (default
127.0.0.1:8100). Refuses to start with development secrets outside development mode."""

from __future__ import annotations

from spotctl_sandbox.analytics.api.app import create_app
from spotctl_sandbox.analytics.config import AnalyticsConfig
from spotctl_sandbox.common import logs
from spotctl_sandbox.common.env import Env
from spotctl_sandbox.common.settings import refuse_insecure
from spotctl_sandbox.common.startup import configuration, serve_asgi


def main() -> None:
    env = Env()
    # JSON lines like every sandbox service (it wrote plain text lines: `spotctl trace` and
    # `spotctl logs --json` read its lines as untimed ones)
    logs.setup("analytics", env.text("LOG_LEVEL", "INFO"), quiet=("aiokafka", "httpx"))
    with configuration("analytics"):
        port = env.port("PORT", 8100)
        config = AnalyticsConfig.from_env(env)
        refuse_insecure(config.settings)
        app = create_app(config)
    serve_asgi(app, config.settings.bind_host, port)


if __name__ == "__main__":
    main()
