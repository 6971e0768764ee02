"""The reliability campaign: a stack of its own, a steady driver, and each service killed, then paused.

For every fault it records when the fault began and ended and how long until every kind of
operation was acknowledged again and `spotctl health` was green, with no human action. At the end
(after letting queues drain) it compares what clients were told with what the stores hold.

Run by `tests/reliability/test_outages.py` (short pauses, CI) or by hand for the long version:

    python -m tests.reliability.campaign --pause 30 --out docs-table.md   # SPOTCTL_TEST_PORT_BASE=...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from tests.reliability.driver import KINDS, Account, Driver, Verdict, judge

ROOT = Path(__file__).resolve().parents[2]
# Each service killed, then paused; `hub-worker` is one of the hub's worker processes (the hub
# service's own supervisor replaces it), the rest are compose services (the stack's supervisor).
TARGETS = ("redis", "postgres", "rabbitmq", "kafka", "hub-worker", "api", "workers")
FAULTS = ("kill", "pause")
RECOVERY_BUDGET_S = 120.0


@dataclass
class Phase:
    target: str
    fault: str
    began: float
    ended: float = 0.0  # the fault's end: at once for a kill, after the pause
    recovered: float | None = None  # every kind acknowledged again and health green
    first_ack: dict[str, float | None] = field(default_factory=dict)

    @property
    def seconds_to_recover(self) -> float | None:
        return None if self.recovered is None else round(self.recovered - self.ended, 1)


@dataclass
class Report:
    phases: list[Phase]
    verdicts: list[Verdict]
    pause_s: float
    wall_s: float
    load: tuple[float, float, float]

    def table(self) -> str:
        lines = ["| fault | service | recovered after (s) | first ack after the fault ended (s): play / playlist "
                 "/ release / chat |", "|---|---|---|---|"]
        for p in self.phases:
            acks = " / ".join("-" if (t := p.first_ack.get(k)) is None else f"{max(0.0, t - p.ended):.1f}"
                              for k in KINDS)
            ttr = "NOT RECOVERED" if p.seconds_to_recover is None else f"{p.seconds_to_recover:.1f}"
            what = f"pause {self.pause_s:g}s" if p.fault == "pause" else "kill -9"
            lines.append(f"| {what} | {p.target} | {ttr} | {acks} |")
        lines += ["", "| operation | acknowledged | failed attempts (retried) | given up | lost | duplicated "
                  "| phantom |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {v.kind} | {v.acked} | {v.failed_attempts} | {v.given_up} | {len(v.lost)} | "
                  f"{len(v.duplicated)} | {len(v.phantom)} |" for v in self.verdicts]
        return "\n".join(lines)


def port_env(state: Path, base: int) -> dict[str, str]:
    """A whole stack's ports (every SPOTCTL_<NAME>_PORT of the compose file) from `base` up."""
    names = sorted(set(re.findall(r"SPOTCTL_(\w+?)_PORT", (ROOT / "compose" / "compose.yaml").read_text())))
    return {"SPOTCTL_STATE_DIR": str(state), "SPOTCTL_PROJECT_DIR": str(ROOT), "NO_COLOR": "1",
            **{f"SPOTCTL_{n}_PORT": str(base + i) for i, n in enumerate(names)}}


class Stack:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**{k: v for k, v in os.environ.items() if not k.endswith("_URL")
                       and k != "KAFKA_BOOTSTRAP_SERVERS"}, **env}

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "spotctl", *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout, cwd=ROOT, stdin=subprocess.DEVNULL)

    def urls(self) -> dict[str, str]:
        out = self.cli("config", "-o", "json")
        return {k: v for k, v in json.loads(out.stdout)["endpoints"].items() if v}

    def healthy(self) -> bool:
        return self.cli("health", "-o", "json", timeout=60).returncode == 0

    def pid(self, service: str) -> int:
        return int(json.loads(self.cli("ps", "-o", "json", service).stdout)["services"][service]["pid"])


@contextmanager
def own_stack(state: Path, base: int) -> Iterator[Stack]:
    stack = Stack(port_env(state, base))
    stack.cli("down")
    up = stack.cli("up", timeout=300)
    if up.returncode != 0:
        raise RuntimeError(f"spotctl up failed:\n{up.stderr[-3000:]}")
    try:
        yield stack
    finally:
        stack.cli("down", timeout=300)


async def set_up(urls: dict[str, str], users: int = 20) -> tuple[list[Account], list[int], int, int]:
    """Users (registered through the API), songs, an artist, a chat channel."""
    import httpx
    import psycopg
    from redis.asyncio import Redis

    from spotctl_sandbox.common import tokens
    from spotctl_sandbox.realtime.client import HubClient

    secret = os.environ.get("JWT_SECRET", "dev-only-jwt-secret-change-me-in-production")
    run = uuid.uuid4().hex[:8]
    redis = Redis.from_url(urls["REDIS_URL"])
    async with httpx.AsyncClient(base_url=urls["API_URL"], timeout=30) as http:
        async def register(i: int) -> Account:
            resp = await http.post("/api/auth/register", json={"email": f"rel-{run}-{i}@example.com",
                                                               "name": f"rel {i}", "password": "reliable-pw"})
            resp.raise_for_status()
            user_id = resp.json()["id"]
            return Account(user_id, await tokens.issue(redis, secret, user_id, f"rel {i}"))

        accounts = list(await asyncio.gather(*(register(i) for i in range(users))))
    await redis.aclose()
    with psycopg.connect(urls["DATABASE_URL"], autocommit=True) as conn:
        artist = conn.execute(  # owned by the account that releases for it (only owners and admins may)
            "INSERT INTO artists (name, genre, owner_user_id) VALUES (%s, 'rock', %s) RETURNING id",
            (f"rel-artist-{run}", int(accounts[0].user_id))).fetchone()
        assert artist is not None
        songs = [int(r[0]) for r in conn.execute(
            "INSERT INTO songs (title, artist_id, artist, duration_s, audio_path, mime_type) "
            "SELECT 'rel-song-' || g, %s, %s, 30, 'tone-440.wav', 'audio/wav' FROM generate_series(1, 48) g "
            "RETURNING id", (artist[0], f"rel-artist-{run}")).fetchall()]
    async with HubClient(urls["HUB_URL"], accounts[-1].token) as hub:
        channel = (await hub.request("channel_create", {"kind": "public", "name": f"rel-{run}"}))["channel"]["id"]
    return accounts, songs, int(artist[0]), int(channel)


def inject(stack: Stack, target: str, fault: str, pause_s: float) -> Callable[[], None]:
    """Start the fault; returns what ends it (nothing to do for a kill: the supervisors heal)."""
    if target == "hub-worker":
        worker = psutil.Process(stack.pid("hub")).children()[0]
        if fault == "kill":
            worker.kill()
            return lambda: None
        worker.suspend()
        return worker.resume
    args = ["chaos", fault, target, "--yes"] + (["--for", str(pause_s)] if fault == "pause" else [])
    done = stack.cli(*args)
    if done.returncode != 0:
        raise RuntimeError(f"spotctl {' '.join(args)}: {done.stderr}")
    return lambda: None  # the supervisor thaws a `--for` pause by itself


async def campaign(stack: Stack, pause_s: float, targets: tuple[str, ...] = TARGETS,
                   log: Callable[[str], None] = print) -> Report:
    started, load = time.monotonic(), os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    urls = stack.urls()
    accounts, songs, artist, channel = await set_up(urls)
    driver = Driver(urls["API_URL"], urls["HUB_URL"], accounts, songs, artist, channel)
    running = asyncio.create_task(driver.run())
    await asyncio.sleep(3)  # steady state first
    phases = []
    for target in targets:
        for fault in FAULTS:
            phase = Phase(target, fault, began=time.time())
            end = await asyncio.to_thread(inject, stack, target, fault, pause_s)
            if fault == "pause":
                await asyncio.sleep(pause_s)
                end()
            phase.ended = time.time()
            await recover(stack, driver, phase)
            ttr = phase.seconds_to_recover
            log(f"{fault} {target}: " + (f"recovered after {ttr}s" if ttr is not None else
                                         f"NOT recovered within {RECOVERY_BUDGET_S:.0f}s: {phase.first_ack}"))
            phases.append(phase)
    await asyncio.sleep(2)
    driver.stop()
    await running
    verdicts = await settle_and_judge(urls, driver)
    return Report(phases, verdicts, pause_s, round(time.monotonic() - started, 1), load)


async def recover(stack: Stack, driver: Driver, phase: Phase) -> None:
    """Wait (bounded) until every kind is acknowledged after the fault ended and health is green
    (recovered: the later of the two; health is asked every half second once every kind is back)."""
    deadline = time.time() + RECOVERY_BUDGET_S
    while time.time() < deadline:
        phase.first_ack = {k: driver.ledger.first_ack_after(k, phase.ended) for k in KINDS}
        if all(phase.first_ack.values()):
            asked = time.time()
            if await asyncio.to_thread(stack.healthy):
                phase.recovered = max(*(t for t in phase.first_ack.values() if t), asked)
                return
        await asyncio.sleep(0.5)


async def settle_and_judge(urls: dict[str, str], driver: Driver, drain_s: float = 90.0) -> list[Verdict]:
    """Let retried jobs land (bounded), then compare each kind with its store."""
    import psycopg
    from redis.asyncio import Redis

    redis = Redis.from_url(urls["REDIS_URL"], decode_responses=True)
    acked_plays = {o.key for o in driver.ledger.acked("play")}
    deadline = time.monotonic() + drain_s
    while True:
        plays = Counter[str]()
        for account in driver.accounts:
            for raw in await redis.lrange(f"recent:{account.user_id}", 0, -1):
                plays[f"{account.user_id}:{json.loads(raw)['song_id']}"] += 1
        if acked_plays <= set(plays) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    await redis.aclose()
    prefix = f"rel-{driver.run_id}-%"
    with psycopg.connect(urls["DATABASE_URL"]) as conn:
        def count(sql: str) -> Counter[str]:
            return Counter({str(k): int(n) for k, n in conn.execute(sql, (prefix,)).fetchall()})

        playlists = count("SELECT doc->>'name', count(*) FROM playlists WHERE doc->>'name' LIKE %s GROUP BY 1")
        releases = count("SELECT title, count(*) FROM songs WHERE title LIKE %s GROUP BY 1")
        # a pending row (a send answered with an error, not retried to the end) is seen by nobody
        chat = count("SELECT text, count(*) FROM hub_messages WHERE text LIKE %s AND NOT pending GROUP BY 1")
    stored = {"play": plays, "playlist": playlists, "release": releases, "chat": chat}
    return [judge(driver.ledger, kind, stored[kind]) for kind in KINDS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pause", type=float, default=5.0, help="seconds each pause lasts")
    parser.add_argument("--base", type=int, default=int(os.environ.get("SPOTCTL_TEST_PORT_BASE", "30600")) + 20)
    parser.add_argument("--state", type=Path, default=Path("/tmp/spotctl-reliability"))
    parser.add_argument("--out", type=Path, help="also write the report here (markdown + JSON beside it)")
    args = parser.parse_args()
    with own_stack(args.state, args.base) as stack:
        report = asyncio.run(campaign(stack, args.pause))
    text = (f"wall {report.wall_s}s, pause {report.pause_s:g}s, load average at start "
            f"{' '.join(f'{x:.2f}' for x in report.load)}\n\n{report.table()}")
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(asdict(report), indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
