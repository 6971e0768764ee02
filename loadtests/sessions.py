"""Access tokens for the load users, minted like `tokens.issue` but pipelined, and revoked after.

100k sessions one round trip at a time would take longer than the run's ramp; a pipeline of
`open_session` calls writes them in a few seconds. Only the sessions minted here are deleted.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from pathlib import Path

import jwt

from spotctl_sandbox.common import tokens

BATCH = 5_000


async def _mint(redis_url: str, secret: str, user_id: Callable[[int], str], count: int,
                ttl_s: int) -> tuple[list[str], list[str]]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    issued: list[str] = []
    jtis: list[str] = []
    try:
        for start in range(0, count, BATCH):
            async with client.pipeline(transaction=False) as pipe:
                for i in range(start, min(count, start + BATCH)):
                    token, claims = tokens.encode(secret, user_id(i), f"load user {i}", ttl_s)
                    await tokens.open_session(pipe, claims)
                    issued.append(token)
                    jtis.append(claims.jti)
                await pipe.execute()
    finally:
        await client.aclose()
    return issued, jtis


async def _revoke(redis_url: str, jtis: list[str]) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    try:
        for start in range(0, len(jtis), BATCH):
            await client.delete(*(tokens.session_key(j) for j in jtis[start:start + BATCH]))
    finally:
        await client.aclose()


def mint(redis_url: str, secret: str, user_id: Callable[[int], str], count: int, path: Path,
         ttl_s: int = 6 * 3600) -> list[str]:
    """Write `count` tokens to `path`, one a line; return their jtis for `revoke`."""
    with warnings.catch_warnings():  # the dev secret is short; that is the stack's choice, not ours
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        issued, jtis = asyncio.run(_mint(redis_url, secret, user_id, count, ttl_s))
    path.write_text("\n".join(issued) + "\n")
    return jtis


def revoke(redis_url: str, jtis: list[str]) -> None:
    if jtis:
        asyncio.run(_revoke(redis_url, jtis))
