"""api: the HTTP mix of flows 1 (play a song), 4 (create a playlist) and 5 (search).

Each user registers its own account and logs in (the API's own flow, argon2 and all), then loops:
search (5) most often, play one of the results (1), now and then save a few results as a playlist
(4). Requests go out from this worker's own 127.0.0.x address, so the API's per-IP limit is per
worker. Any non-2xx answer is a Locust failure and fails the run; the flow requests (not register
and login, slow by design with argon2) feed the HDR histogram behind the p99 gate.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

from locust import HttpUser, between, events, task
from requests.adapters import HTTPAdapter

from loadtests import distributed, metrics
from loadtests.config import RunConfig

WORDS = ("silver", "midnight", "electric", "golden", "velvet", "neon", "river", "echo", "harbor",
         "garden", "signal", "mirror", "dancing", "falling", "dreaming", "drifting")
PASSWORD = "load-test-password"
_accounts = itertools.count()
CONFIG = RunConfig.from_env()


class SourceAddressAdapter(HTTPAdapter):
    """requests' pool, but bound to a source address (ephemeral ports and per-IP limits per worker)."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


class Listener(HttpUser):
    host = CONFIG.api_url
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        distributed.wait_configured()
        if CONFIG.source_address:
            self.client.mount("http://", SourceAddressAdapter(CONFIG.source_address))
        index = CONFIG.worker_index + CONFIG.workers * next(_accounts)
        email = f"{CONFIG.user_id(index)}@load.spotctl.dev"
        self.client.post("/api/auth/register", json={"email": email, "name": "load user", "password": PASSWORD},
                         name="/api/auth/register")
        reply = self.client.post("/api/auth/login", json={"email": email, "password": PASSWORD},
                                 name="/api/auth/login")
        token = reply.json().get("access_token", "") if reply.ok else ""
        self.client.headers["Authorization"] = f"Bearer {token}"
        self.found: list[int] = []
        metrics.COUNTERS.ready += 1

    @task(5)
    def search(self) -> None:
        """Flow 5: GET /api/search (Redis cache-aside, Kafka search_performed)."""
        q = random.choice(WORDS)
        with self.client.get("/api/search", params={"q": q, "limit": 20}, name="/api/search",
                             catch_response=True) as resp:
            if resp.ok:
                items = resp.json().get("results", resp.json().get("items", []))
                self.found = [int(i["id"]) for i in items if "id" in i][:20] or self.found

    @task(4)
    def play(self) -> None:
        """Flow 1: POST /api/songs/{id}/play (JWT + session, song cache, Kafka song_played, BullMQ job)."""
        if self.found:
            self.client.post(f"/api/songs/{random.choice(self.found)}/play", name="/api/songs/{id}/play")

    @task(1)
    def create_playlist(self) -> None:
        """Flow 4: POST /api/playlists (playlist store, cache invalidation, Kafka playlist_created)."""
        songs = random.sample(self.found, k=min(3, len(self.found)))
        self.client.post("/api/playlists", json={"name": "load mix", "description": "made by a load test",
                                                 "song_ids": songs}, name="/api/playlists")


@distributed.on_config
def _adopt(config: RunConfig, _tokens: list[str]) -> None:
    """A worker that joined from another host learns the run's API URL and its index from the master."""
    global CONFIG
    CONFIG = config
    Listener.host = config.api_url


AUTH = ("/api/auth/register", "/api/auth/login")


def _time_flow(name: str, response_time: float, exception: Exception | None, **_: Any) -> None:
    if name not in AUTH and exception is None:
        metrics.COUNTERS.messages += 1
        metrics.COUNTERS.record_latency(response_time / 1000)


@events.init.add_listener
def _install(environment: Any, **_: Any) -> None:
    metrics.install(environment, CONFIG, measures_latency=True)
    environment.events.request.add_listener(_time_flow)
