"""A steady client load that writes down every operation it was told succeeded (or not), with ids.

Four kinds, each at a few operations a second: plays (flow 1, judged by `recent:<user>`), playlists
(flow 4, by row), releases (flow 3, by song row) and hub chat messages (by `hub_messages` row).
Every name or text is unique, so the stores can be compared with what the client was told:
lost (acknowledged, not stored), duplicated (stored twice), phantom (refused or timed out, yet stored).
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

from spotctl_sandbox.hub.client import HubClient, HubError

KINDS = ("play", "playlist", "release", "chat")
CLIENT_TIMEOUT_S = 3.0
PACE_S = 0.25


@dataclass
class Op:
    kind: str
    key: str  # what identifies it in the store: "user:song" for a play, the name/title/text otherwise
    at: float
    ok: bool
    error: str = ""


@dataclass
class Ledger:
    ops: list[Op] = field(default_factory=list)

    def add(self, kind: str, key: str, ok: bool, error: str = "") -> None:
        self.ops.append(Op(kind, key, time.time(), ok, error))

    def acked(self, kind: str) -> list[Op]:
        return [o for o in self.ops if o.kind == kind and o.ok]

    def refused(self, kind: str) -> list[Op]:
        return [o for o in self.ops if o.kind == kind and not o.ok]

    def first_ack_after(self, kind: str, t: float) -> float | None:
        return next((o.at for o in self.ops if o.kind == kind and o.ok and o.at >= t), None)


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
        try:
            resp = await http.post(path, json=body, headers=self._headers(account))
            self.ledger.add(kind, key, resp.status_code < 300, "" if resp.status_code < 300 else
                            f"{resp.status_code} {resp.text[:120]}")
        except httpx.HTTPError as exc:
            self.ledger.add(kind, key, False, f"{type(exc).__name__}")

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
        killed or frozen) is dropped and a fresh one made, as a real client's reconnect would."""
        client: HubClient | None = None
        while not self._stop.is_set():
            if client is None:
                client = await self._hub_client()
                continue
            text = f"rel-{self.run_id}-{uuid.uuid4().hex[:10]}"
            try:
                await client.request("chat_message", {"channel_id": self.channel_id, "text": text},
                                     timeout=CLIENT_TIMEOUT_S)
                self.ledger.add("chat", text, True)
            except Exception as exc:  # refused, timed out, connection gone: not acknowledged either way
                self.ledger.add("chat", text, False, f"{type(exc).__name__}: {str(exc)[:100]}")
                if not isinstance(exc, HubError) or exc.code in ("closed", "unreachable"):
                    await _quietly_close(client)
                    client = None
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
    refused: int
    lost: list[str]
    duplicated: list[str]
    phantom: list[str]


def judge(ledger: Ledger, kind: str, stored: Counter[str]) -> Verdict:
    """Compare what the client was told with what is stored (`stored`: key -> copies)."""
    acked, refused = ledger.acked(kind), ledger.refused(kind)
    acked_keys = {o.key for o in acked}
    return Verdict(kind=kind, acked=len(acked), refused=len(refused),
                   lost=sorted(k for k in acked_keys if stored[k] == 0),
                   duplicated=sorted(k for k, n in stored.items() if n > 1),
                   phantom=sorted(({o.key for o in refused} - acked_keys) & {k for k, n in stored.items() if n}))
