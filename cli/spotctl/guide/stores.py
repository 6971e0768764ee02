"""The I/O edge of a scenario run: the store clients its checks read through, and an HTTP client for
the API and the workers (actions, `http:` checks, the mail and push sinks).

Clients come from `spotctl.clients` (the same ones `spotctl redis|jobs|pg|rabbit` and the TUI use),
opened on first use and all closed when the run ends: `async with Stores(endpoints) as stores:`.
The blocking ones (Redis, PostgreSQL, RabbitMQ's management API) are called from a thread. Hub users
(`actors`) connect on first use and keep every frame they receive, for the `hub:` checks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from spotctl.endpoints import Endpoints

if TYPE_CHECKING:
    import httpx

    from spotctl.clients.bullmq import JobsClient
    from spotctl.clients.hub_peer import Frame, Peer
    from spotctl.clients.postgres import PgClient
    from spotctl.clients.rabbit import Management
    from spotctl.clients.redis import RedisClient

SINK_SLACK_S = 1.0  # the sinks stamp arrival with their own clock: allow a little skew
SINK_LIMIT = 200
C = TypeVar("C", bound=AbstractContextManager[Any])


@dataclass
class Actor:
    """A user of a run's hub actions: the frames they received over all their connections, and the
    connection itself while they are online."""

    name: str
    frames: list[Frame] = field(default_factory=list)
    peer: Peer | None = None
    online: contextlib.AsyncExitStack | None = None


class Stores:
    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        self._open = contextlib.AsyncExitStack()
        self._http: httpx.AsyncClient | None = None
        self._jobs: JobsClient | None = None
        self._clients: dict[str, AbstractContextManager[Any]] = {}
        self.actors: dict[str, Actor] = {}

    async def __aenter__(self) -> Stores:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        for name in list(self.actors):
            await self.disconnect(name)
        await self._open.aclose()
        self._http, self._jobs, self._clients, self.actors = None, None, {}, {}

    # -- hub users: connected on first use, kept for the run ------------------------------------------

    def actor(self, name: str) -> Actor:
        return self.actors.setdefault(name, Actor(name))

    async def peer(self, name: str) -> Peer:
        """`name`'s live connection, opened (token minted) if they are offline."""
        from spotctl.clients import hub_peer

        actor = self.actor(name)
        if actor.peer is None or actor.peer.closed is not None:
            await self.disconnect(name)
            online = contextlib.AsyncExitStack()
            try:
                actor.peer = await online.enter_async_context(
                    hub_peer.connect(self.endpoints, name, on_frame=actor.frames.append))
            except BaseException:
                await online.aclose()
                raise
            actor.online = online
        return actor.peer

    async def disconnect(self, name: str) -> None:
        """Take `name` offline (their token is revoked); what they received stays in `frames`."""
        actor = self.actors.get(name)
        if actor is not None and actor.online is not None:
            online, actor.online, actor.peer = actor.online, None, None
            await online.aclose()

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

        return self.client("redis", lambda: RedisClient(self.endpoints.cluster_or_redis_url, timeout=5))

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

            self._jobs = JobsClient(self.endpoints.cluster_or_redis_url)
            self._open.push_async_callback(self._jobs.close)
        return self._jobs

    async def sink(self, path: str, since: float) -> list[dict[str, Any]]:
        """What the workers' mail or push sink received since `since` (epoch seconds)."""
        resp = await self.http.get(f"{self.endpoints.workers_url.rstrip('/')}{path}", params={"limit": SINK_LIMIT})
        resp.raise_for_status()
        return [m for m in resp.json().get("messages", []) if float(m.get("received_at", 0)) >= since - SINK_SLACK_S]
