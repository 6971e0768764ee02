"""The I/O edge of a scenario run: the store clients its checks read through, and an HTTP client for
the API and the workers (actions, `http:` checks, the mail and push sinks).

Clients come from `spotctl.clients` (the same ones `spotctl redis|jobs|pg|rabbit` and the TUI use),
opened on first use and all closed when the run ends: `async with Stores(endpoints) as stores:`.
The blocking ones (Redis, PostgreSQL, RabbitMQ's management API) are called from a thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from spotctl.endpoints import Endpoints

if TYPE_CHECKING:
    import httpx

    from spotctl.clients.bullmq import JobsClient
    from spotctl.clients.postgres import PgClient
    from spotctl.clients.rabbit import Management
    from spotctl.clients.redis import RedisClient

SINK_SLACK_S = 1.0  # the sinks stamp arrival with their own clock: allow a little skew
SINK_LIMIT = 200
C = TypeVar("C", bound=AbstractContextManager[Any])


class Stores:
    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        self._open = contextlib.AsyncExitStack()
        self._http: httpx.AsyncClient | None = None
        self._jobs: JobsClient | None = None
        self._clients: dict[str, AbstractContextManager[Any]] = {}

    async def __aenter__(self) -> Stores:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        await self._open.aclose()
        self._http, self._jobs, self._clients = None, None, {}

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(timeout=15)
            self._open.push_async_callback(self._http.aclose)
        return self._http

    def client(self, name: str, open_client: Callable[[], C], *, stale: Callable[[C], bool] | None = None) -> C:
        """The run's client called `name`, opened with `open_client()` on first use (again when `stale`
        says so) and closed when the run ends. A blocking client is opened and used from a thread."""
        found = cast("C | None", self._clients.get(name))
        if found is None or (stale is not None and stale(found)):
            found = self._open.enter_context(open_client())
            self._clients[name] = found
        return found

    def redis(self) -> RedisClient:
        from spotctl.clients.redis import RedisClient

        return self.client("redis", lambda: RedisClient(self.endpoints.redis_url, timeout=5))

    def pg(self) -> PgClient:
        """Autocommit, so each poll sees what was committed since."""
        from spotctl.clients.postgres import PgClient

        return self.client("postgres", lambda: PgClient(self.endpoints.database_url, read_only=False,
                                                        autocommit=True), stale=lambda pg: pg.conn.closed)

    def rabbit(self) -> Management:
        from spotctl.clients.rabbit import Management

        return self.client("rabbit", lambda: Management(self.endpoints.rabbitmq_mgmt_url, self.endpoints.amqp_url))

    def jobs(self) -> JobsClient:
        if self._jobs is None:
            from spotctl.clients.bullmq import JobsClient

            self._jobs = JobsClient(self.endpoints.redis_url)
            self._open.push_async_callback(self._jobs.close)
        return self._jobs

    async def sink(self, path: str, since: float) -> list[dict[str, Any]]:
        """What the workers' mail or push sink received since `since` (epoch seconds)."""
        resp = await self.http.get(f"{self.endpoints.workers_url.rstrip('/')}{path}", params={"limit": SINK_LIMIT})
        resp.raise_for_status()
        return [m for m in resp.json().get("messages", []) if float(m.get("received_at", 0)) >= since - SINK_SLACK_S]
