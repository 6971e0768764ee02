"""`spotctl redis`: info, keys (SCAN), type-aware get, top of a sorted set, del, subscribe."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spotctl.output import OutputFormat, OutputOpt, confirm, emit, info, print_json

if TYPE_CHECKING:
    import redis as redis_lib

    from spotctl.inspect.redis_view import KeyView

KEY = "REDIS_URL"
UrlOpt = Annotated[str | None, typer.Option("--url", help="Redis URL (default: $REDIS_URL, then the stack).",
                                           show_default=False)]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many entries.")]

app = typer.Typer(help="Inspect Redis: memory and hit rate, keys by pattern, values of any type, pub/sub.",
                  no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="redis", help="Inspect Redis (like redis-cli, with SCAN and type-aware values).")


@contextmanager
def connect(url: str | None) -> Iterator[redis_lib.Redis]:
    """A client whose connection errors become one ServiceDown line; server errors a SpotctlError."""
    import redis as redis_lib

    from spotctl.endpoints import resolve
    from spotctl.errors import SpotctlError
    from spotctl.inspect.reach import reaching, require

    target = require(KEY, resolve({KEY: url}).redis_url)
    client = redis_lib.Redis.from_url(target, socket_connect_timeout=2, socket_timeout=10)
    try:
        with reaching(KEY, target, redis_lib.ConnectionError, redis_lib.TimeoutError):
            try:
                client.ping()
                yield client
            except redis_lib.ResponseError as exc:
                raise SpotctlError(f"redis refused: {exc}") from None
    finally:
        client.close()


@app.command("info")
def info_cmd(url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Memory, clients, keyspace hit rate and the API cache's own hit rate (stats:cache:*)."""
    from spotctl.inspect.redis_view import APP_HIT_KEY, APP_MISS_KEY, info_rows, summarize_info

    with connect(url) as r:
        raw = r.info("all")
        hits, misses = r.mget(APP_HIT_KEY, APP_MISS_KEY)
    summary = summarize_info(raw, int(hits or 0), int(misses or 0))
    emit(summary, output, ("metric", "value"), info_rows(summary), title="redis")


@app.command("keys")
def keys_cmd(pattern: Annotated[str, typer.Argument(help="Glob pattern, e.g. 'song:*'.")] = "*",
             limit: LimitOpt = 200, url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Keys matching PATTERN with type and TTL. Uses SCAN (never KEYS), so it is safe on a busy server."""
    from spotctl.inspect.redis_scan import scan_keys
    from spotctl.inspect.values import human_ttl

    with connect(url) as r:
        rows, truncated = scan_keys(r, pattern, limit)
    found = [{"key": key, "type": type_, "ttl": ttl} for key, type_, ttl in rows]
    if truncated:
        info(f"showing the first {limit} matches; narrow the pattern or raise --limit")
    emit({"pattern": pattern, "keys": found, "truncated": truncated}, output, ("key", "type", "ttl"),
         [(key, type_, human_ttl(ttl)) for key, type_, ttl in rows], title=f"keys {pattern}")


@app.command("get")
def get_cmd(key: str, limit: LimitOpt = 100, url: UrlOpt = None,
            output: OutputOpt = OutputFormat.table) -> None:
    """A key's value, whatever its type (string, hash, list, set, zset, stream), with its TTL."""
    from spotctl.errors import SpotctlError

    with connect(url) as r:
        view = read_key(r, key, limit)
    if view is None:
        raise SpotctlError(f"no key {key!r}", hint="list keys with `spotctl redis keys PATTERN`")
    if output is OutputFormat.json:
        print_json(view.as_json())
        return
    info(view.heading())
    emit(None, output, view.columns(), view.rows())


def read_key(r: Any, key: str, limit: int) -> KeyView | None:
    """Type-aware read; `r` is Any because redis-py's reply unions do not narrow per command."""
    from spotctl.inspect.redis_view import KeyType, KeyView
    from spotctl.inspect.values import decode

    kind = KeyType(decode(r.type(key)) or "none")
    if kind is KeyType.none:
        return None
    ttl = int(r.ttl(key))
    value: Any
    if kind is KeyType.string:
        raw = r.get(key)
        length, value = int(r.strlen(key)), decode(raw)
    elif kind is KeyType.hash:
        length = int(r.hlen(key))
        value = {decode(f): decode(v) for f, v in _take(r.hscan_iter(key, count=500), limit)}
    elif kind is KeyType.list:
        length, value = int(r.llen(key)), [decode(v) for v in r.lrange(key, 0, limit - 1)]
    elif kind is KeyType.set:
        length, value = int(r.scard(key)), sorted(decode(v) or "" for v in _take(r.sscan_iter(key), limit))
    elif kind is KeyType.zset:
        length = int(r.zcard(key))
        value = [{"member": decode(m), "score": s} for m, s in r.zrange(key, 0, limit - 1, withscores=True)]
    else:
        length = int(r.xlen(key))
        entries = list(reversed(r.xrevrange(key, count=limit)))
        value = [{"id": decode(i), "fields": {decode(f): decode(v) for f, v in fields.items()}}
                 for i, fields in entries]
    return KeyView(key, kind, ttl, length, value, truncated=kind is not KeyType.string and length > limit)


def _take(items: Iterator[Any], n: int) -> list[Any]:
    taken: list[Any] = []
    for item in items:
        if len(taken) == n:
            break
        taken.append(item)
    return taken


@app.command("top")
def top_cmd(key: Annotated[str, typer.Argument(help="A sorted set, e.g. trending:songs.")] = "trending:songs",
            n: Annotated[int, typer.Argument(min=1, help="How many members.")] = 10,
            url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """The N highest-scored members of a sorted set (ZREVRANGE WITHSCORES)."""
    from spotctl.errors import SpotctlError, UsageError
    from spotctl.inspect.values import decode

    with connect(url) as r:
        kind = decode(r.type(key))
        if kind == "none":
            raise SpotctlError(f"no key {key!r}", hint="nothing has been scored yet, or the name is wrong")
        if kind != "zset":
            raise UsageError(f"{key!r} is a {kind}, not a sorted set", hint=f"use `spotctl redis get {key}`")
        members: Any = r.zrevrange(key, 0, n - 1, withscores=True)
    rows = [{"rank": i + 1, "member": decode(m), "score": s} for i, (m, s) in enumerate(members)]
    emit(rows, output, ("rank", "member", "score"), [(x["rank"], x["member"], f"{x['score']:g}") for x in rows],
         title=f"top {n} of {key}")


@app.command("del")
def del_cmd(keys: Annotated[list[str], typer.Argument(help="Keys to delete.")],
            yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
            url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Delete keys (asks first; --yes to skip). Fails if none of them exists."""
    from spotctl.errors import SpotctlError
    from spotctl.inspect.values import decode

    with connect(url) as r:
        pipe = r.pipeline(transaction=False)
        for k in keys:
            pipe.type(k)
        kinds = [decode(t) for t in pipe.execute()]
        existing = [(k, t) for k, t in zip(keys, kinds, strict=True) if t != "none"]
        if not existing:
            raise SpotctlError("none of these keys exists: " + ", ".join(keys))
        confirm("delete " + ", ".join(f"{k} ({t})" for k, t in existing), yes)
        deleted = int(r.delete(*[k for k, _ in existing]))
    emit({"deleted": deleted, "keys": [k for k, _ in existing]}, output, ("deleted", "keys"),
         [(deleted, ", ".join(k for k, _ in existing))])


@app.command("subscribe")
def subscribe_cmd(
    channels: Annotated[list[str], typer.Argument(help="Channels; glob patterns (news:*) use PSUBSCRIBE.")],
    count: Annotated[int | None, typer.Option("--count", "-c", min=1, help="Stop after N messages.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", min=0.1, help="Stop after S seconds.")] = None,
    url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Live tail of pub/sub messages (ctrl-c to stop). JSON output is one object per line."""
    from spotctl.errors import SpotctlError
    from spotctl.inspect.redis_view import is_pattern
    from spotctl.inspect.values import decode, maybe_json

    with connect(url) as r:
        pubsub = r.pubsub(ignore_subscribe_messages=True)
        plain = [c for c in channels if not is_pattern(c)]
        globs = [c for c in channels if is_pattern(c)]
        if plain:
            pubsub.subscribe(*plain)
        if globs:
            pubsub.psubscribe(*globs)
        info(f"listening on {', '.join(channels)} (ctrl-c to stop)")
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = 0
        while count is None or seen < count:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            msg = pubsub.get_message(timeout=min(left, 1.0) if left is not None else 1.0)
            if msg is None:
                continue
            seen += 1
            data = decode(msg["data"])
            event = {"ts": time.time(), "channel": decode(msg["channel"]), "pattern": decode(msg.get("pattern")),
                     "data": maybe_json(data)}
            line = (json.dumps(event, ensure_ascii=False) if output is OutputFormat.json
                    else f"{time.strftime('%H:%M:%S')} {event['channel']} {data}")
            print(line, flush=True)
        pubsub.close()
    if count is not None and seen < count:
        raise SpotctlError(f"only {seen} of {count} messages arrived within {timeout:g} s")
