"""Pure-ASGI middleware (no per-request task or body buffering): the request body limit, the
per-IP rate limit and Prometheus request counts/latency labelled by route template, not raw path.

The body limit is ours rather than Starlette's `max_body_size` because that one answers in plain
text (and replaces any response to an over-long declared body with it); our errors are JSON. A
declared Content-Length over the limit is answered at once, before any of the body is read; a
chunked body raises `BodyTooLarge` (a 413 HTTPException, so errors.py renders it) as soon as the
bytes read pass the limit."""

from __future__ import annotations

import ipaddress
import json
import time
from typing import Any

from starlette.exceptions import HTTPException
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


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than {limit} bytes")


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class ObserveAndLimit:
    def __init__(self, app: ASGIApp, limits: Any, max_body_bytes: int) -> None:
        self.app = app
        self.limits_of = limits  # callable returning RateLimits once the lifespan made it
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        declared = declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _answer(send, 413, {"detail": BodyTooLarge(self.max_body_bytes).detail}, close=True)
            self._observe(scope, "body-too-large", 413, started)
            return
        if scope["path"] not in UNLIMITED_PATHS:
            limits: RateLimits | None = self.limits_of()
            if limits is not None:
                verdict = await limits.check_ip(client_ip(scope))
                if not verdict.allowed:
                    metrics.RATE_LIMITED.labels("ip").inc()
                    await _too_many(send, verdict.retry_after_s, str(limits.per_ip))
                    self._observe(scope, "rate-limited", 429, started)
                    return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        finally:
            route = scope.get("route")
            self._observe(scope, getattr(route, "path", "unmatched"), status, started)

    @staticmethod
    def _observe(scope: Scope, route: str, status: int, started: float) -> None:
        metrics.REQUESTS.labels(scope["method"], route, str(status)).inc()
        metrics.LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)


async def _too_many(send: Send, retry_after: int, limit: str) -> None:
    await _answer(send, 429, {"detail": f"rate limit exceeded for this address ({limit})",
                              "retry_after": retry_after}, [(b"retry-after", str(retry_after).encode())])


async def _answer(send: Send, status: int, content: dict[str, Any],
                  headers: list[tuple[bytes, bytes]] | None = None, close: bool = False) -> None:
    """A JSON response straight from the middleware; `close` when the request body stays unread."""
    body = json.dumps(content).encode()
    extra = [*(headers or []), *([(b"connection", b"close")] if close else [])]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})
