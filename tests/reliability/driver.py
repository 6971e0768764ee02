"""A steady client load that writes down every operation it was told succeeded (or not), with ids.

Four kinds, each at a few operations a second: plays (flow 1, judged by `recent:<user>`), playlists
(flow 4, by row), releases (flow 3, by song row) and hub chat messages (by `hub_messages` row).
Every name or text is unique, so the stores can be compared with what the client was told:
lost (acknowledged, not stored), duplicated (stored twice), phantom (given up on, yet stored).

The operations behave like a careful client: each API write carries an `Idempotency-Key`, each chat
message a `client_msg_id`, and is retried with it after a 5xx / `unavailable`, a timeout or a dropped
connection (every PACE_S, for up to RETRY_FOR_S), so a first attempt that was stored although its
answer never arrived is found by the retry instead of being written twice. A definite refusal (a 4xx,
a hub error such as `forbidden`) ends the operation.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from spotctl_sandbox.realtime.client import HubClient, HubError

KINDS = ("play", "playlist", "release", "chat")
CLIENT_TIMEOUT_S = 3.0
PACE_S = 0.25
RETRY_FOR_S = 90.0  # then the operation is given up (a fault the campaign's recovery budget tolerates)
RETRIABLE = frozenset({408, 425, 429})  # 4xx answers that are not a verdict on the operation
HUB_RETRIABLE = frozenset({"unavailable", "rate_limited"})  # hub errors that are not one either


@dataclass
class Op:
    kind: str
    key: str  # what identifies it in the store: "user:song" for a play, the name/title/text otherwise
    started: float
    attempts: int = 0
    acked_at: float | None = None  # when an attempt was acknowledged
    gave_up: bool = False  # refused for good, or retried for RETRY_FOR_S in vain
    errors: list[str] = field(default_factory=list)  # what each failed attempt was told

    def failed(self, error: str) -> None:
        self.errors.append(error)

    def ack(self) -> None:
        self.acked_at = time.time()


@dataclass
class Ledger:
    ops: list[Op] = field(default_factory=list)

    def start(self, kind: str, key: str) -> Op:
        op = Op(kind, key, time.time())
        self.ops.append(op)
        return op

    def acked(self, kind: str) -> list[Op]:
        return [o for o in self.ops if o.kind == kind and o.acked_at is not None]

    def given_up(self, kind: str) -> list[Op]:
        return [o for o in self.ops if o.kind == kind and o.acked_at is None and o.gave_up]

    def failed_attempts(self, kind: str) -> int:
        return sum(len(o.errors) for o in self.ops if o.kind == kind)

    def first_ack_after(self, kind: str, t: float) -> float | None:
        return min((o.acked_at for o in self.ops if o.kind == kind and o.acked_at is not None
                    and o.acked_at >= t), default=None)


@dataclass
class Account:
    user_id: str
    token: str


class Driver:
    """Runs the four loops until stopped; `accounts`, `songs`, `artist_id` come from the set-up."""

    def __init__(self, api_url: str, hub_url: str, accounts: list[Account], songs: list[int], artist_id: int,
                 channel_id: int) -> None:
        self.api_url, self.hub_url = api_url, hub_url
        self.accounts, self.songs, self.artist_id, self.channel_id = accounts, songs, artist_id, channel_id
        self.ledger = Ledger()
        self._stop = asyncio.Event()
        # each user plays each song at most once: recent:<user> keeps one entry per song (50 max)
        self._plays = itertools.cycle([(a, s) for s in songs[:48] for a in accounts])
        self.run_id = uuid.uuid4().hex[:8]

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.api_url, timeout=CLIENT_TIMEOUT_S) as http:
            await asyncio.gather(self._loop(lambda: self._play(http)), self._loop(lambda: self._playlist(http)),
                                 self._loop(lambda: self._release(http)), self._chat())

    async def _loop(self, once: Any) -> None:
        while not self._stop.is_set():
            try:
                await once()
            except Exception as exc:  # a driver loop that died would read as a service that never recovers
                print(f"driver: unexpected {exc!r}", flush=True)
            await asyncio.sleep(PACE_S)

    def _headers(self, account: Account) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.token}"}

    async def _post(self, http: httpx.AsyncClient, kind: str, key: str, path: str, account: Account,
                    body: dict[str, Any] | None = None) -> None:
        """One operation: attempts with the same Idempotency-Key until one is acknowledged or refused."""
        op = self.ledger.start(kind, key)
        headers = {**self._headers(account), "Idempotency-Key": str(uuid.uuid4())}
        while True:
            op.attempts += 1
            try:
                resp = await http.post(path, json=body, headers=headers)
            except httpx.HTTPError as exc:
                op.failed(type(exc).__name__)
            else:
                if resp.status_code < 300:
                    op.ack()
                    return
                op.failed(f"{resp.status_code} {resp.text[:120]}")
                if resp.status_code < 500 and resp.status_code not in RETRIABLE:
                    op.gave_up = True
                    return
            if time.time() - op.started > RETRY_FOR_S:
                op.gave_up = True
                return
            await asyncio.sleep(PACE_S)

    async def _play(self, http: httpx.AsyncClient) -> None:
        account, song = next(self._plays)
        await self._post(http, "play", f"{account.user_id}:{song}", f"/api/songs/{song}/play", account)

    async def _playlist(self, http: httpx.AsyncClient) -> None:
        name = f"rel-{self.run_id}-{uuid.uuid4().hex[:10]}"
        await self._post(http, "playlist", name, "/api/playlists", self.accounts[0], {"name": name, "song_ids": []})

    async def _release(self, http: httpx.AsyncClient) -> None:
        title = f"rel-{self.run_id}-{uuid.uuid4().hex[:10]}"
        await self._post(http, "release", title, "/api/releases", self.accounts[0],
                         {"artist_id": self.artist_id, "title": title})

    async def _chat(self) -> None:
        """Chat through a client of our own making: a connection that failed in any way (its worker
        killed or frozen) is dropped and a fresh one made, as a real client's reconnect would. Each
        message carries a `client_msg_id` and is sent again with it, on whatever connection is up,
        until acknowledged or refused (as the API writes are, with their Idempotency-Key)."""
        client: HubClient | None = None
        while not self._stop.is_set():
            text = f"rel-{self.run_id}-{uuid.uuid4().hex[:10]}"
            op = self.ledger.start("chat", text)
            content = {"channel_id": self.channel_id, "text": text, "client_msg_id": uuid.uuid4().hex}
            while op.acked_at is None and not op.gave_up:
                if client is None:
                    client = await self._hub_client()
                if client is not None:
                    op.attempts += 1
                    try:
                        await client.request("chat_message", content, timeout=CLIENT_TIMEOUT_S)
                        op.ack()
                        break
                    except Exception as exc:  # refused, timed out, connection gone: not acknowledged
                        op.failed(f"{type(exc).__name__}: {str(exc)[:100]}")
                        if isinstance(exc, HubError) and exc.code not in HUB_RETRIABLE | {"closed", "unreachable"}:
                            op.gave_up = True  # a verdict on the message itself
                            break
                        if not isinstance(exc, HubError) or exc.code in ("closed", "unreachable"):
                            await _quietly_close(client)
                            client = None
                if time.time() - op.started > RETRY_FOR_S:
                    op.gave_up = True
                    break
                await asyncio.sleep(PACE_S)
            await asyncio.sleep(PACE_S)
        if client is not None:
            await _quietly_close(client)

    async def _hub_client(self) -> HubClient | None:
        account = self.accounts[-1]
        client = HubClient(self.hub_url, account.token, reconnect=False, open_timeout=CLIENT_TIMEOUT_S)
        try:
            await asyncio.wait_for(client.connect(), CLIENT_TIMEOUT_S + 1)
            await client.request("channel_join", {"channel_id": self.channel_id}, timeout=CLIENT_TIMEOUT_S)
            return client
        except Exception:  # the hub (or the store behind it) may be what is down
            await _quietly_close(client)
            await asyncio.sleep(0.5)
            return None


async def _quietly_close(client: HubClient) -> None:
    try:
        await asyncio.wait_for(client.close(), 2)
    except Exception:  # closing a dead connection may fail in many ways; it is gone either way
        pass


@dataclass(frozen=True)
class Verdict:
    kind: str
    acked: int
    failed_attempts: int  # answered with an error or not at all, then retried
    given_up: int
    lost: list[str]
    duplicated: list[str]
    phantom: list[str]


def judge(ledger: Ledger, kind: str, stored: Counter[str]) -> Verdict:
    """Compare what the client was told in the end with what is stored (`stored`: key -> copies)."""
    acked, given_up = ledger.acked(kind), ledger.given_up(kind)
    acked_keys = {o.key for o in acked}
    return Verdict(kind=kind, acked=len(acked), failed_attempts=ledger.failed_attempts(kind),
                   given_up=len(given_up),
                   lost=sorted(k for k in acked_keys if stored[k] == 0),
                   duplicated=sorted(k for k, n in stored.items() if n > 1),
                   phantom=sorted(({o.key for o in given_up} - acked_keys) & {k for k, n in stored.items() if n}))
