"""How a hub process starts: its log lines (never a token in them) and its settings, refused in one
line with exit code 2 when unusable — or when they would run production on the development secret."""

from __future__ import annotations

from spotctl_sandbox.common import logs
from spotctl_sandbox.common.env import Env
from spotctl_sandbox.common.settings import refuse_insecure
from spotctl_sandbox.common.startup import configuration

from .config import HubConfig


def setup_logging() -> None:
    """JSON lines (common/logs.py; the forked workers inherit them), never a token in them."""
    logs.setup("hub")


def load_config(env: Env | None = None) -> HubConfig:
    with configuration("hub"):
        cfg = HubConfig.from_env(env)
        refuse_insecure(cfg.settings)
    return cfg
