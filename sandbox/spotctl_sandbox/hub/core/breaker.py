"""A dependency's circuit breaker: after a call timed out, fail the next ones at once for a moment.

Every dependency call is bounded (HUB_DEPENDENCY_TIMEOUT_S), but a connection's frames are handled in
order, so during a stall each frame would still wait out the bound and the backlog would grow until
the socket stops being read (and pings with it). Open, the breaker answers `unavailable` without
calling; after `cooldown_s` one frame is let through to probe, and the first success closes it, so
service resumes within a cooldown of the dependency's return. Pure: the caller passes the clock in.
(A dozen lines did not warrant a library: pybreaker and aiobreaker count failures, not time.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Breaker:
    name: str  # the dependency, as the `unavailable` error names it
    cooldown_s: float = 0.5
    open_until: float = 0.0  # 0: closed

    def allow(self, now: float) -> bool:
        """May a call go to the dependency now? While open, no; past the cooldown, one call per
        cooldown probes (a probe that never reaches the dependency leaves room for the next)."""
        if self.open_until == 0.0:
            return True
        if now >= self.open_until:
            self.open_until = now + self.cooldown_s
            return True
        return False

    def failed(self, now: float) -> None:
        self.open_until = now + self.cooldown_s

    def succeeded(self) -> None:
        self.open_until = 0.0

    @property
    def closed(self) -> bool:
        return self.open_until == 0.0
