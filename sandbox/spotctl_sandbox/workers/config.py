"""The workers' settings: the shared service settings plus the sinks' ports and folder.

Kept here rather than in common.Settings because only this process listens on these ports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from spotctl_sandbox.common.settings import Settings


class ConfigError(ValueError):
    """A setting cannot be used; the message names the variable."""


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"{name}={port} is outside 0..65535")
    return port


@dataclass(frozen=True)
class WorkerConfig:
    settings: Settings
    smtp_port: int
    push_port: int
    #: What the SMTP and push sinks received: <sink_dir>/mail/*.eml and <sink_dir>/push/*.json
    sink_dir: Path
    #: Who receives the daily report mail.
    report_recipient: str = "executives@spotify.local"

    @classmethod
    def from_env(cls) -> WorkerConfig:
        settings = Settings.from_env()
        sink_dir = os.environ.get("SINK_DIR", "").strip()
        return cls(
            settings=settings,
            smtp_port=_port("SMTP_PORT", 8025),
            push_port=_port("PUSH_PORT", 8026),
            sink_dir=Path(sink_dir) if sink_dir else settings.reports_dir.parent / "sinks",
            report_recipient=os.environ.get("REPORT_RECIPIENT", "").strip() or cls.report_recipient,
        )
