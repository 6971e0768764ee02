"""The workers' settings: the shared service settings plus the sinks' ports and folder.

Kept here rather than in common.Settings because only this process listens on these ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spotctl_sandbox.common.env import Env
from spotctl_sandbox.common.settings import Settings


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
    def from_env(cls, env: Env | None = None) -> WorkerConfig:
        e = env or Env()
        settings = Settings.from_env(e)
        return cls(
            settings=settings,
            smtp_port=e.port("SMTP_PORT", 8025),
            push_port=e.port("PUSH_PORT", 8026),
            sink_dir=e.path("SINK_DIR", settings.reports_dir.parent / "sinks"),
            report_recipient=e.text("REPORT_RECIPIENT", cls.report_recipient),
        )
