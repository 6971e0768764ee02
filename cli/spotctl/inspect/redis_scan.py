"""Listing keys on a live server: SCAN (never KEYS) with type and TTL in one pipelined round trip.

Shared by `spotctl redis keys` and the TUI's key browser, which differ only in how they show it.
"""

from __future__ import annotations

from typing import Any

from spotctl.inspect.values import decode


def scan_keys(client: Any, pattern: str, limit: int) -> tuple[list[tuple[str, str, int]], bool]:
    """(key, type, ttl) of the first `limit` keys matching `pattern`, sorted; and whether more matched."""
    names: list[bytes] = []
    for name in client.scan_iter(match=pattern or "*", count=1000):
        if len(names) > limit:
            break
        names.append(name)
    truncated = len(names) > limit
    names = sorted(names[:limit])
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.type(name)
        pipe.ttl(name)
    replies = pipe.execute()
    rows = [(decode(n) or "", decode(replies[2 * i]) or "", int(replies[2 * i + 1])) for i, n in enumerate(names)]
    return rows, truncated
