"""The API's settings: the shared Settings plus the few knobs only the API has (all from env)."""

from __future__ import annotations

import os
from dataclasses import dataclass

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
    def from_env(cls) -> ApiConfig:
        d = cls(settings=Settings())
        env = os.environ
        return cls(
            settings=Settings.from_env(),
            rate_limit_ip=env.get("API_RATE_LIMIT_IP") or d.rate_limit_ip,
            rate_limit_user=env.get("API_RATE_LIMIT_USER") or d.rate_limit_user,
            rpc_timeout_s=float(env.get("API_RPC_TIMEOUT_S") or d.rpc_timeout_s),
            stream_link_ttl_s=int(env.get("API_STREAM_LINK_TTL_S") or d.stream_link_ttl_s),
            dependency_timeout_s=float(env.get("API_DEPENDENCY_TIMEOUT_S") or d.dependency_timeout_s),
        )
