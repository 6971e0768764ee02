"""Rate-limit decisions: a token bucket plus a strike counter that turns repeated abuse into a close.

Pure: callers pass the clock in, so tests need no sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    ALLOW = "allow"
    REJECT = "reject"  # answer with an error frame, keep the connection
    CLOSE = "close"  # abuse: error frame, then close the connection


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens per second
    burst: float
    tokens: float = -1.0
    updated: float = 0.0

    def take(self, now: float, cost: float = 1.0) -> bool:
        if self.tokens < 0:
            self.tokens, self.updated = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def wait_s(self, cost: float = 1.0) -> float:
        """Seconds until `cost` tokens are there again (as of the last `take`)."""
        return max(0.0, (cost - self.tokens) / self.rate) if self.rate > 0 else 0.0


@dataclass(slots=True)
class AbuseGuard:
    """Counts rejected messages; `max_strikes` rejections inside `window_s` mean abuse."""

    max_strikes: int = 20
    window_s: float = 10.0
    strikes: int = 0
    window_start: float = 0.0

    def strike(self, now: float) -> Verdict:
        if now - self.window_start > self.window_s:
            self.window_start, self.strikes = now, 0
        self.strikes += 1
        return Verdict.CLOSE if self.strikes >= self.max_strikes else Verdict.REJECT

    def cooldown_s(self, now: float) -> float:
        """How long an abuser closed now should stay away: until its strike window has passed."""
        return max(1.0, self.window_s - (now - self.window_start))


@dataclass(slots=True)
class ConnectionLimiter:
    """Per-connection bucket + abuse guard; the per-user limit is checked in Redis by the edge."""

    bucket: TokenBucket
    guard: AbuseGuard

    @classmethod
    def create(cls, rate: float, burst: float, max_strikes: int = 20) -> ConnectionLimiter:
        return cls(TokenBucket(rate, burst), AbuseGuard(max_strikes=max_strikes))

    def check(self, now: float, user_allowed: bool = True) -> Verdict:
        if self.bucket.take(now) and user_allowed:
            return Verdict.ALLOW
        return self.guard.strike(now)
