"""Pure-ASGI middleware: every request runs under a correlation id, and leaves one access line.

The id is the request's X-Request-ID (the gateway sets one on every request) when it is a usable
token, else a new one. While the request is handled it is bound (`common.logs`), so the request's log
lines and the Kafka events, BullMQ jobs and RabbitMQ messages it produces carry it; the response
echoes it in X-Request-ID, so a client can quote it to `spotctl trace`.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spotctl_sandbox.common import logs

log = logging.getLogger("spotctl_sandbox.api.access")
QUIET_PATHS = frozenset({"/health", "/metrics"})  # polled every few seconds: not worth a line each
_HEADER = logs.HEADER.lower().encode()


class Correlation:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == _HEADER), None)
        cid = logs.valid(given) or logs.new_id()
        began, started, status = time.time(), time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), (_HEADER, cid.encode())]}
            await send(message)

        with logs.bound(cid):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                path = scope.get("path", "")
                if path not in QUIET_PATHS:
                    ms = round((time.perf_counter() - started) * 1000, 1)
                    # `began` to the microsecond: `ts` is cut to the millisecond, so ts - ms could put
                    # the request's start before the gateway's own for it (`spotctl trace` orders by it)
                    log.info("%s %s -> %d in %.1f ms", scope.get("method"), path, status, ms,
                             extra={"fields": {"method": scope.get("method"), "path": path, "status": status,
                                               "ms": ms, "began": round(began, 6)}})
