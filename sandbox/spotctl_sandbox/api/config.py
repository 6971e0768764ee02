"""The API's settings: the shared Settings plus the few knobs only the API has (all from env)."""

from __future__ import annotations

from dataclasses import dataclass

from spotctl_sandbox.common.env import Env
from spotctl_sandbox.common.settings import Settings


@dataclass(frozen=True)
class ApiConfig:
    settings: Settings
    rate_limit_ip: str = "6000/minute"      # API_RATE_LIMIT_IP, `limits` notation
    rate_limit_user: str = "1200/minute"    # API_RATE_LIMIT_USER
    rpc_timeout_s: float = 5.0              # API_RPC_TIMEOUT_S: recommendation worker reply
    stream_link_ttl_s: int = 3600           # API_STREAM_LINK_TTL_S: signed /stream URLs
    dependency_timeout_s: float = 3.0       # API_DEPENDENCY_TIMEOUT_S: connect/ack budget per call

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
        )
