"""A hostile client against a real hub: values other clients would break on, odd tokens, fuzzed frames.

Each gets a clear error frame (never `internal`, never close 1011), the connection stays, the hub's log
holds no traceback and no token, and refusals are in the audit stream."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

from spotctl_sandbox.common import tokens
from spotctl_sandbox.hub import audit
from spotctl_sandbox.hub.connection import INBOUND
from spotctl_sandbox.realtime.protocol import ProtocolError

from .conftest import Hub, HubProcess, token
from .test_protocol import BOUNDS, frame_of

pytestmark = pytest.mark.stack

FUZZ_FRAMES = 300  # over the socket; the pure parser takes 10,000 a run (test_protocol.py)


@pytest.fixture
def own_hub(unlimited_hub: HubProcess) -> HubProcess:
    return unlimited_hub


@pytest.fixture
async def ws(own_hub: HubProcess, hub: Hub, redis: aioredis.Redis, ns: str,
             cleanup: None) -> AsyncIterator[ClientConnection]:
    async with connect(f"{own_hub.url}?token={await token(redis, hub, f'mallory-{ns}')}&ns={ns}") as conn:
        assert json.loads(await conn.recv())["type"] == "welcome"
        yield conn


async def reply(conn: ClientConnection, request_id: str | None) -> dict[str, Any]:
    """The frame answering `request_id` (pushed frames in between are skipped)."""
    while True:
        frame = json.loads(await asyncio.wait_for(conn.recv(), 10))
        if frame.get("reply_to") == request_id:
            return frame


def log_of(proc: HubProcess) -> str:
    return Path(proc.log).read_text(errors="replace")


@pytest.mark.parametrize(("frame", "field"), [
    ('{"type":"room_message","id":"q","content":{"room":"r","data":{"x":NaN}}}', "content['data']['x']"),
    ('{"type":"session_control","id":"q","content":{"session_id":"s","action":"volume","volume":NaN}}',
     "content['volume']"),
    ('{"type":"time_sync","id":"q","content":{"client_time":Infinity}}', "content['client_time']"),
    ('{"type":"channel_create","id":"q","content":{"kind":"public","name":"a\\u0000b"}}', "content['name']"),
    ('{"type":"chat_message","id":"q","content":{"channel_id":1,"text":"\\udfff"}}', "content['text']"),
    ('{"type":"channel_join","id":"q","content":{"channel_id":99999999999999999999}}', "content['channel_id']"),
    ('{"type":"room_message","id":"q","content":{"room":"r","data":' + "[" * 1000 + "]" * 1000 + "}}", "nested"),
])
async def test_values_other_clients_break_on_get_an_error_naming_the_field(ws: ClientConnection, frame: str,
                                                                            field: str) -> None:
    await ws.send('{"type":"join","id":"j","content":{"room":"r"}}')  # so a room_message would be relayed
    await reply(ws, "j")
    await ws.send(frame)
    # too deep for any decoder to read its id (json's own limit is ~1,000 levels): answered all the same
    error = await reply(ws, None if field == "nested" else "q")
    assert error["type"] == "error" and error["content"]["code"] == "bad_json"
    assert field in error["content"]["message"]
    await ws.send('{"type":"ping","id":"p"}')
    assert (await reply(ws, "p"))["type"] == "pong"  # the connection stays


async def test_fuzzed_frames_get_an_answer_never_internal_and_never_a_traceback(
        ws: ClientConnection, own_hub: HubProcess) -> None:
    rng = random.Random(11)
    for i in range(FUZZ_FRAMES):
        raw = frame_of(tuple(rng.randrange(bound) for bound in BOUNDS))
        if isinstance(raw, str) and not _utf8(raw):
            raw = raw.encode("utf-8", "surrogatepass")  # a text frame cannot carry it: send the bytes
        try:
            INBOUND.parse(raw)
            expected = None
        except ProtocolError as exc:
            expected = exc.code
        await ws.send(raw)
        await ws.send(json.dumps({"type": "ping", "id": f"sync-{i}"}))
        answers = []
        while (frame := json.loads(await asyncio.wait_for(ws.recv(), 10))).get("reply_to") != f"sync-{i}":
            answers.append(frame)
        errors = [a["content"]["code"] for a in answers if a["type"] == "error"]
        assert "internal" not in errors, (raw, answers)
        if expected is not None:
            assert expected in errors, (raw, answers)
    log = log_of(own_hub)
    assert "Traceback" not in log and "handler failed" not in log


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def signed(hub: Hub, **claims: Any) -> tuple[str, tokens.Claims]:
    jti = uuid.uuid4().hex
    exp = int(time.time()) + 600
    payload = {"sub": claims.pop("sub", f"odd-{jti[:6]}"), "name": "odd", "jti": jti, "exp": exp, **claims}
    return (jwt.encode(payload, hub.env["JWT_SECRET"], algorithm="HS256"),
            tokens.Claims(user_id=str(payload["sub"]), name="odd", jti=jti, expires_at=exp))


@pytest.mark.parametrize(("claims", "says"), [
    ({"ns": None}, "'ns'"), ({"ns": 7}, "'ns'"), ({"ns": []}, "'ns'"), ({"ns": ["a", 1]}, "'ns'"),
    ({"sub": "a b"}, "'sub'"), ({"sub": "x" * 200}, "'sub'"),
])
async def test_odd_token_claims_are_refused_cleanly(own_hub: HubProcess, hub: Hub, redis: aioredis.Redis,
                                                    claims: dict[str, Any], says: str) -> None:
    tok, parsed = signed(hub, **claims)
    await tokens.open_session(redis, parsed)
    async with connect(f"{own_hub.url}?token={tok}") as conn:
        refused = json.loads(await conn.recv())
        await conn.wait_closed()
    assert refused["content"]["code"] == "unauthorized" and says in refused["content"]["message"]
    assert conn.close_code == 1008


async def test_a_user_id_that_is_not_a_number_is_a_user_of_the_hub(own_hub: HubProcess, hub: Hub,
                                                                    redis: aioredis.Redis) -> None:
    tok, parsed = signed(hub, sub=f"alice.{uuid.uuid4().hex[:6]}")
    await tokens.open_session(redis, parsed)
    async with connect(f"{own_hub.url}?token={tok}") as conn:
        assert json.loads(await conn.recv())["content"]["user_id"] == parsed.user_id


async def test_tokens_never_reach_the_log_or_the_audit(own_hub: HubProcess, hub: Hub, redis: aioredis.Redis,
                                                       ns: str) -> None:
    limited, parsed = signed(hub, ns=["elsewhere"])
    await tokens.open_session(redis, parsed)
    expired = jwt.encode({"sub": "1", "jti": "j", "exp": 1}, hub.env["JWT_SECRET"], algorithm="HS256")
    secrets = [limited, expired, "x" * 5000]
    async with connect(f"{own_hub.url}?token={limited}&ns={ns}") as conn:
        await conn.recv()
    async with connect(f"{own_hub.url}?token={expired}") as conn:
        await conn.recv()
    async with connect(own_hub.url) as conn:  # an auth frame whose token breaks the schema (too long)
        await conn.send(json.dumps({"type": "auth", "content": {"token": secrets[2]}}))
        refused = json.loads(await conn.recv())
    assert refused["content"]["code"] == "unauthorized" and secrets[2] not in refused["content"]["message"]
    stored = json.dumps(await audit.recent(redis, 50))
    log = log_of(own_hub)
    for secret in secrets:
        assert secret[:40] not in log and secret[:40] not in stored


async def test_a_denied_action_is_audited(ws: ClientConnection, redis: aioredis.Redis, ns: str) -> None:
    await ws.send('{"type":"room_message","id":"q","content":{"room":"not-joined","data":1}}')
    assert (await reply(ws, "q"))["content"]["code"] == "forbidden"
    entries: list[dict[str, str]] = []

    async def audited() -> bool:  # written just after the error frame went out
        entries[:] = [e for e in await audit.recent(redis, 500) if e.get("target") == f"ns:{ns}"]
        return bool(entries)

    deadline = time.monotonic() + 5
    while not await audited():
        assert time.monotonic() < deadline, "no audit entry"
        await asyncio.sleep(0.05)
    assert entries[0]["event"] == "denied" and entries[0]["service"] == "hub"
    assert entries[0]["action"] == "room_message" and entries[0]["actor"] == f"mallory-{ns}"
