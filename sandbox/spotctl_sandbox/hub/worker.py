"""One worker process: a websockets server on the shared port (SO_REUSEPORT) around one Hub.

websockets (asyncio, uvloop, compression off) was chosen by measurement: see docs/hub-server-choice.md.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
from http import HTTPStatus
from pathlib import Path

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from ..common import leanredis, redisconn
from ..common.env import Env
from ..common.redisconn import AsyncAnyRedis
from . import metrics
from .activity import ActivityReporter
from .boot import load_config, setup_logging
from .broker import for_redis
from .config import HubConfig
from .conn import HubConnection
from .connection import Server
from .node import Hub
from .store import Database
from .userlimit import UserLimit

log = logging.getLogger("spotctl_sandbox.hub")

# A worker keeps thousands of long-lived objects per hundred connections (connection, protocol, task,
# buffers). With CPython's default thresholds (700, 10, 10) full collections walked all of them often
# enough to take 13 % of a worker's CPU at 15k deliveries/s (py-spy, 5k connections per worker); almost
# all garbage here is freed by reference counting, so collect far less often.
GC_THRESHOLDS = (50_000, 20, 10)


def _redis(url: str, bound: float) -> AsyncAnyRedis:
    """Every command answers within the dependency bound or fails (`unavailable`); a timeout is not
    retried (a frozen Redis would cost a bound per retry), a connection that died with a restarted
    Redis is, once."""
    timeouts = {"socket_timeout": bound, "socket_connect_timeout": bound}
    if redisconn.is_cluster_url(url):  # a pool per shard, made by the cluster client
        return redisconn.connect_async(url, max_connections=64, **timeouts)
    # Blocking pool: under a connect storm callers wait for a connection instead of failing at once.
    return aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(
        url, max_connections=64, timeout=max(2.0, 2 * bound), **timeouts,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1, supported_errors=(RedisConnectionError,))))


async def run(cfg: HubConfig, index: int, ready_file: Path | None) -> None:
    metrics.WORKER = str(index)
    metrics.announce()
    gc_watch = metrics.watch_gc()
    lag_watch = asyncio.get_running_loop().create_task(metrics.watch_loop_lag())
    bound = cfg.dependency_timeout_s
    redis = _redis(cfg.settings.cluster_or_redis_url, bound)
    db = Database(cfg.settings.database_url, cfg.settings.mongo_url, answer_within_s=bound)
    # A short first try (a present database answers in milliseconds), then keep trying in the background.
    ready_db = await db.open(timeout_s=2.0)
    retry_db = None if ready_db else asyncio.get_running_loop().create_task(db.keep_opening())
    lean = leanredis.beside(redis, bound)  # the per-message rate check and publish: issue 18
    hub = Hub(cfg, redis, index, broker=for_redis(redis, lean))
    await hub.start()
    reporter = ActivityReporter(hub.activity, cfg.settings.kafka_bootstrap_servers, cfg.activity_interval_s)
    reporter.start()
    server = Server(hub, db, UserLimit(redis, cfg.user_rate, lean))

    def gate(connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?", 1)[0].rstrip("/") != "/ws":
            return connection.respond(HTTPStatus.NOT_FOUND, "the WebSocket endpoint is /ws\n")
        if hub.draining:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "shutting down: reconnect\n")
        return None

    stop = asyncio.Event()
    _on_signals(asyncio.get_running_loop(), stop)
    # Keepalive pings come from the hub's ping wheel (hub/keepalive.py), not a task per connection.
    async with serve(server.handle, cfg.host, cfg.port, reuse_port=hasattr(socket, "SO_REUSEPORT"), compression=None,
                     max_size=cfg.max_frame_bytes, max_queue=16, process_request=gate,
                     ping_interval=None, create_connection=HubConnection, close_timeout=2,
                     server_header="spotctl-hub") as ws_server:
        log.info("worker %d (pid %d) listening on %s:%d", index, os.getpid(), cfg.host, cfg.port)
        if ready_file is not None:
            ready_file.write_text(str(os.getpid()))
        await stop.wait()
        log.info("worker %d draining %d connections", index, len(hub.conns))
        await hub.drain()
        ws_server.close(close_connections=True)
        await ws_server.wait_closed()
    await hub.stop()
    await reporter.stop()
    if retry_db is not None:
        retry_db.cancel()
    await db.close()
    if lean is not None:
        lean.close()
    await redis.aclose()
    lag_watch.cancel()
    gc_watch.uninstall()
    log.info("worker %d stopped", index)


def _on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set `stop`: through the loop where it can (POSIX), else a plain handler (Windows)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))


def serve_forever(cfg: HubConfig, index: int, ready_file: Path | None) -> None:
    """Run one worker until SIGTERM (called in a process forked by the supervisor, or by main())."""
    logging.getLogger("websockets").setLevel(logging.WARNING)  # one line per connection is too many
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)  # it warns on every retry while PG is down
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)  # run() installs the loop's handlers
    gc.freeze()  # what was imported before the fork is never garbage: leave it out of every collection
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        import uvloop

        uvloop.run(run(cfg, index, ready_file))
    except ImportError:
        asyncio.run(run(cfg, index, ready_file))


def main() -> None:
    """A single worker on its own (the supervisor normally forks them)."""
    setup_logging()
    env = Env()
    cfg = load_config(env)
    ready = env.optional("HUB_READY_FILE")
    serve_forever(cfg, env.integer("HUB_WORKER_INDEX", 0, minimum=0), Path(ready) if ready else None)


if __name__ == "__main__":
    main()
