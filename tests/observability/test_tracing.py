"""One play followed through the real stack: the gateway makes the request id, the API answers with it,
and `spotctl trace ID` finds it in the gateway's, the API's and the workers' logs (the Kafka event
applied, the BullMQ job done), in order; `spotctl logs --json` gives the contract's fields."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

from tests.observability.conftest import wait_for

pytestmark = pytest.mark.stack


@pytest.fixture
def song(stack: Any) -> Any:
    stack.up("api", "workers", "gateway")
    with psycopg.connect(stack.env["DATABASE_URL"], autocommit=True) as conn:
        artist = conn.execute("INSERT INTO artists (name) VALUES (%s) RETURNING id",
                              (f"Tracer {uuid.uuid4().hex[:6]}",)).fetchone()
        assert artist is not None
        row = conn.execute("INSERT INTO songs (title, artist_id, artist, album, duration_s, audio_path) "
                           "VALUES ('Traced', %s, 'Tracer', 'Trace', 180, 'tone-a.mp3') RETURNING id",
                           (artist[0],)).fetchone()
        assert row is not None
        yield row[0]
        conn.execute("DELETE FROM artists WHERE id = %s", (artist[0],))


def test_a_play_through_the_gateway_is_traced_across_services(stack: Any, song: int,
                                                            cli: Callable[..., Any]) -> None:
    env = stack.env
    with httpx.Client(base_url=env["GATEWAY_URL"], verify=False, timeout=15) as http:
        email = f"trace-{uuid.uuid4().hex[:10]}@test.spotctl.dev"
        assert http.post("/api/auth/register", json={"email": email, "name": "T", "password": "password1"}
                         ).status_code == 201
        token = http.post("/api/auth/login", json={"email": email, "password": "password1"}).json()["access_token"]
        played = http.post(f"/api/songs/{song}/play", headers={"Authorization": f"Bearer {token}"})
    assert played.status_code == 200, played.text
    cid = played.headers["X-Request-ID"]  # made by the gateway: the client sent none

    def traced() -> dict[str, Any] | None:
        result = cli("trace", cid, "-o", "json", env=env)
        if result.returncode != 0:
            return None
        lines = json.loads(result.stdout)["lines"]
        messages = [f"{line['service']}: {line['msg']}" for line in lines]
        wanted = ("gateway: POST", "api: POST", "applied song_played", "(update_recently_played) done")
        return {"lines": lines, "messages": messages} if all(any(w in m for m in messages) for w in wanted) else None

    found = wait_for(traced, 60, f"gateway, api, analytics and job lines for {cid}", every=1)
    services = [line["service"] for line in found["lines"]]
    assert services[:2] == ["gateway", "api"] and "workers" in services[2:]
    assert all(line["correlation_id"] == cid for line in found["lines"])

    shown = cli("logs", "api", "--json", "--tail", "50", env=env)
    assert shown.returncode == 0, shown.stderr
    records = [json.loads(line) for line in shown.stdout.splitlines()]
    mine = [r for r in records if r["correlation_id"] == cid]
    assert mine and {"ts", "level", "service", "msg", "correlation_id"} <= set(mine[0])

    missing = cli("trace", "no-such-request", env=env)
    assert missing.returncode == 1 and "no log line carries correlation id no-such-request" in missing.stderr
