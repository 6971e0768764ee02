"""`spotctl redis`: info, keys (SCAN), type-aware get, top of a sorted set, del, subscribe.

The Redis is the one the API, the hub and the workers use: REDIS_CLUSTER_URL when set (a Redis Cluster),
else REDIS_URL (`Endpoints.cluster_or_redis_url`); `--url` takes either kind.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from spotctl.output import OutputFormat, OutputOpt, confirm, emit, info, print_json
from spotctl_sandbox.contract import TRENDING_KEY

if TYPE_CHECKING:
    from spotctl.clients.redis import RedisClient

UrlOpt = Annotated[str | None, typer.Option("--url", help="Redis URL, or redis+cluster://host:port for a cluster "
                                           "(default: $REDIS_CLUSTER_URL, $REDIS_URL, then the stack).",
                                           show_default=False)]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many entries.")]

app = typer.Typer(help="Inspect Redis: memory and hit rate, keys by pattern, values of any type, pub/sub.",
                  no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="redis", help="Inspect Redis (like redis-cli, with SCAN and type-aware values).")


@contextmanager
def connect(url: str | None) -> Iterator[RedisClient]:
    """The Redis client for `--url`, else the Redis the services use (a cluster URL wins)."""
    from spotctl.clients import redis
    from spotctl.endpoints import redis_url

    with redis.connect(redis_url(url)) as client:
        yield client


@app.command("info")
def info_cmd(url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Memory, clients, keyspace hit rate and the API cache's own hit rate (stats:cache:*).

    On a cluster: its state, each node, and the figures summed over its masters.
    """
    from spotctl.inspect.redis_view import info_rows

    with connect(url) as r:
        summary = r.info()
    emit(summary, output, ("metric", "value"), info_rows(summary), title="redis")


@app.command("keys")
def keys_cmd(pattern: Annotated[str, typer.Argument(help="Glob pattern, e.g. 'song:*'.")] = "*",
             limit: LimitOpt = 200, url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Keys matching PATTERN with type and TTL. Uses SCAN (never KEYS), so it is safe on a busy server;
    on a cluster it scans every master."""
    from spotctl.inspect.values import human_ttl

    with connect(url) as r:
        rows, truncated = r.scan(pattern, limit)
    found = [row._asdict() for row in rows]
    if truncated:
        info(f"showing the first {limit} matches; narrow the pattern or raise --limit")
    emit({"pattern": pattern, "keys": found, "truncated": truncated}, output, ("key", "type", "ttl"),
         [(row.key, row.type, human_ttl(row.ttl)) for row in rows], title=f"keys {pattern}")


@app.command("get")
def get_cmd(key: str, limit: LimitOpt = 100, url: UrlOpt = None,
            output: OutputOpt = OutputFormat.table) -> None:
    """A key's value, whatever its type (string, hash, list, set, zset, stream), with its TTL.

    Sorted sets are listed highest score first, as `top` does.
    """
    from spotctl.errors import SpotctlError

    with connect(url) as r:
        view = r.key(key, limit)
    if view is None:
        raise SpotctlError(f"no key {key!r}", hint="list keys with `spotctl redis keys PATTERN`")
    if output is OutputFormat.json:
        print_json(view.as_json())
        return
    info(view.heading())
    emit(None, output, view.columns(), view.rows())


@app.command("top")
def top_cmd(key: Annotated[str, typer.Argument(help="A sorted set, e.g. trending:songs.")] = TRENDING_KEY,
            n: Annotated[int, typer.Argument(min=1, help="How many members.")] = 10,
            url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """The N highest-scored members of a sorted set (ZREVRANGE WITHSCORES)."""
    from spotctl.errors import SpotctlError, UsageError
    from spotctl.inspect.redis_view import KeyType

    with connect(url) as r:
        kind = r.type_of(key)
        if kind is KeyType.none:
            raise SpotctlError(f"no key {key!r}", hint="nothing has been scored yet, or the name is wrong")
        if kind is not KeyType.zset:
            raise UsageError(f"{key!r} is a {kind}, not a sorted set", hint=f"use `spotctl redis get {key}`")
        members = r.top(key, n)
    rows = [{"rank": i + 1, "member": m, "score": s} for i, (m, s) in enumerate(members)]
    emit(rows, output, ("rank", "member", "score"), [(x["rank"], x["member"], f"{x['score']:g}") for x in rows],
         title=f"top {n} of {key}")


@app.command("del")
def del_cmd(keys: Annotated[list[str], typer.Argument(help="Keys to delete.")],
            yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
            url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Delete keys (asks first; --yes to skip). Fails if none of them exists."""
    from spotctl.errors import SpotctlError
    from spotctl.inspect import questions
    from spotctl.inspect.redis_view import KeyType

    with connect(url) as r:
        existing = [(k, t) for k, t in zip(keys, r.types(keys), strict=True) if t is not KeyType.none]
        if not existing:
            raise SpotctlError("none of these keys exists: " + ", ".join(keys))
        confirm(questions.delete_keys(existing), yes)
        deleted = r.delete(k for k, _ in existing)
    emit({"deleted": deleted, "keys": [k for k, _ in existing]}, output, ("deleted", "keys"),
         [(deleted, ", ".join(k for k, _ in existing))])


@app.command("subscribe")
def subscribe_cmd(
    channels: Annotated[list[str], typer.Argument(help="Channels; glob patterns (news:*) use PSUBSCRIBE.")],
    sharded: Annotated[bool, typer.Option("--sharded", help="SSUBSCRIBE: sharded channels (SPUBLISH), as the hub "
                                          "uses on a cluster.")] = False,
    count: Annotated[int | None, typer.Option("--count", "-c", min=1, help="Stop after N messages.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", min=0.1, help="Stop after S seconds.")] = None,
    url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Live tail of pub/sub messages (ctrl-c to stop). JSON output is one object per line.

    On a Redis Cluster the hub publishes with SPUBLISH: tail its topics with --sharded.
    """
    from spotctl.errors import SpotctlError
    from spotctl.inspect.values import maybe_json

    seen = 0
    with connect(url) as r, r.subscribe(channels, sharded=sharded) as subscription:
        info(f"listening on {', '.join(channels)} (ctrl-c to stop)")
        if r.cluster is not None and not sharded:
            info("a Redis Cluster: classic pub/sub here; the hub's topics are sharded (SPUBLISH): add --sharded")
        for msg in subscription.messages(count=count, timeout=timeout):
            seen += 1
            event = {**msg, "data": maybe_json(msg["data"])}
            line = (json.dumps(event, ensure_ascii=False) if output is OutputFormat.json
                    else f"{time.strftime('%H:%M:%S')} {event['channel']} {msg['data']}")
            print(line, flush=True)
    if count is not None and seen < count:
        raise SpotctlError(f"only {seen} of {count} messages arrived within {timeout:g} s")
