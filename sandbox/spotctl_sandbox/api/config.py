"""The API's settings: the shared Settings plus the few knobs only the API has (all from env)."""

from __future__ import annotations

from dataclasses import dataclass

from spotctl_sandbox.common.env import Env
from spotctl_sandbox.common.settings import DEVELOPMENT, InsecureSettings, Settings, refuse_insecure

DEV_ADMIN_PASSWORD = "spotctl-admin-dev"  # compose's default for development stacks


@dataclass(frozen=True)
class ApiConfig:
    settings: Settings
    rate_limit_ip: str = "6000/minute"      # API_RATE_LIMIT_IP, `limits` notation
    rate_limit_user: str = "1200/minute"    # API_RATE_LIMIT_USER
    rpc_timeout_s: float = 5.0              # API_RPC_TIMEOUT_S: recommendation worker reply
    stream_link_ttl_s: int = 3600           # API_STREAM_LINK_TTL_S: signed /stream URLs
    dependency_timeout_s: float = 3.0       # API_DEPENDENCY_TIMEOUT_S: connect/ack budget per call
    max_body_bytes: int = 1024 * 1024       # API_MAX_BODY_BYTES: larger request bodies get a 413
    admin_email: str = ""                   # ADMIN_EMAIL + ADMIN_PASSWORD: the bootstrap admin,
    admin_password: str = ""                # created (or its password reset) at start

    @classmethod
    def from_env(cls, env: Env | None = None) -> ApiConfig:
        e, d = env or Env(), cls(settings=Settings())
        return cls(
            settings=Settings.from_env(e),
            rate_limit_ip=e.text("API_RATE_LIMIT_IP", d.rate_limit_ip),
            rate_limit_user=e.text("API_RATE_LIMIT_USER", d.rate_limit_user),
            rpc_timeout_s=e.number("API_RPC_TIMEOUT_S", d.rpc_timeout_s, minimum=0),
            stream_link_ttl_s=e.integer("API_STREAM_LINK_TTL_S", d.stream_link_ttl_s, minimum=1),
            dependency_timeout_s=e.number("API_DEPENDENCY_TIMEOUT_S", d.dependency_timeout_s, minimum=0),
            max_body_bytes=e.integer("API_MAX_BODY_BYTES", d.max_body_bytes, minimum=1),
            admin_email=e.text("ADMIN_EMAIL", "").lower(),
            admin_password=e.text("ADMIN_PASSWORD", ""),
        )

    def refuse_insecure(self) -> None:
        """The shared secret check, plus the development admin password outside development."""
        refuse_insecure(self.settings)
        if self.settings.mode != DEVELOPMENT and self.admin_password == DEV_ADMIN_PASSWORD:
            raise InsecureSettings(f"ADMIN_PASSWORD is the development one but SPOTCTL_ENV is "
                                   f"{self.settings.mode!r}: set ADMIN_PASSWORD to a secret of your own")
