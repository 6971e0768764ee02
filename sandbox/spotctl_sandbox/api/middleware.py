"""Pure-ASGI middleware (no per-request task or body buffering): per-IP rate limit and
Prometheus request counts/latency labelled by route template, not raw path."""

from __future__ import annotations

import ipaddress
import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spotctl_sandbox.api import metrics
from spotctl_sandbox.api.ratelimit import RateLimits

UNLIMITED_PATHS = frozenset({"/health", "/metrics", "/docs", "/openapi.json", "/redoc"})


def _is_proxy(peer: str) -> bool:
    try:
        return ipaddress.ip_address(peer).is_private  # loopback (local runtime) or a compose network
    except ValueError:
        return False


def client_ip(scope: Scope) -> str:
    """The peer address; behind the gateway (a loopback or private-network peer) its X-Real-IP.

    Clients on those networks could claim any address; acceptable for the sandbox, not for production.
    """
    peer = (scope.get("client") or ("unknown", 0))[0]
    if _is_proxy(peer):
        for name, value in scope.get("headers", ()):
            if name == b"x-real-ip":
                return str(value.decode("latin-1"))
    return str(peer)


class ObserveAndLimit:
    def __init__(self, app: ASGIApp, limits: Any) -> None:
        self.app = app
        self.limits_of = limits  # callable returning RateLimits once the lifespan made it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        if scope["path"] not in UNLIMITED_PATHS:
            limits: RateLimits | None = self.limits_of()
            if limits is not None:
                verdict = await limits.check_ip(client_ip(scope))
                if not verdict.allowed:
                    metrics.RATE_LIMITED.labels("ip").inc()
                    await _too_many(send, verdict.retry_after_s, str(limits.per_ip))
                    self._observe(scope, "rate-limited", 429, started)
                    return

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            self._observe(scope, getattr(route, "path", "unmatched"), status, started)

    @staticmethod
    def _observe(scope: Scope, route: str, status: int, started: float) -> None:
        metrics.REQUESTS.labels(scope["method"], route, str(status)).inc()
        metrics.LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)


async def _too_many(send: Send, retry_after: int, limit: str) -> None:
    body = json.dumps({"detail": f"rate limit exceeded for this address ({limit})",
                       "retry_after": retry_after}).encode()
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"application/json"), (b"retry-after", str(retry_after).encode()),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
