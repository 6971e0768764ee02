"""How a hub process starts: its log lines (never a token in them) and its settings, refused in one
line with exit code 2 when unusable — or when they would run production on the development secret."""

from __future__ import annotations

import logging
import sys

from spotctl_sandbox.common import logs
from spotctl_sandbox.common.env import Env, EnvError
from spotctl_sandbox.common.logredact import RedactTokens
from spotctl_sandbox.common.settings import InsecureSettings, refuse_insecure

from .config import HubConfig


def setup_logging() -> None:
    """JSON lines (common/logs.py; the forked workers inherit them), never a token in them."""
    logs.setup("hub")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactTokens())  # a library's line may quote a URL with ?token=


def load_config(env: Env | None = None) -> HubConfig:
    try:
        cfg = HubConfig.from_env(env)
        refuse_insecure(cfg.settings)
    except EnvError as exc:
        print(f"hub: bad configuration: {exc}", file=sys.stderr)
        sys.exit(2)
    except InsecureSettings as exc:
        print(f"hub: refusing to start: {exc}", file=sys.stderr)
        sys.exit(2)
    return cfg
