"""What the API exposes beyond its routes: request bodies are limited in the app itself (a 413 sent
before a huge body is read), servers listen on loopback under the local runtime, development
secrets are refused outside development mode, and tokens never reach the log."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from tests.api.conftest import ROOT, ApiUser, SpawnedApi, register_and_login

pytestmark = [pytest.mark.stack]


async def raw_exchange(url: str, head: bytes, body_parts: list[bytes]) -> tuple[int, bytes, int]:
    """Send a request head and as many body parts as the server lets us before it answers; return
    (status, response bytes, parts sent). A server that answers early stops us sending the rest."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(head)
    sent = 0
    answer = asyncio.create_task(read_response(reader))
    try:
        for part in body_parts:
            if answer.done():
                break
            writer.write(part)
            await writer.drain()
            sent += 1
            await asyncio.sleep(0)
        data = await asyncio.wait_for(answer, 10)
    finally:
        writer.close()
    return int(data.split(b" ", 2)[1]), data, sent


async def read_response(reader: asyncio.StreamReader) -> bytes:
    """The whole response: a head and the body its Content-Length declares (a server may send them
    in two segments, so one read is not enough)."""
    raw = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in raw.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return raw + (await reader.readexactly(length) if length else b"")


def head(path: str, token: str, extra: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\n{extra}\r\n").encode()


async def test_a_declared_60_mb_body_is_refused_before_it_is_sent(api_url: str, user: ApiUser) -> None:
    status, data, sent = await raw_exchange(
        api_url, head("/api/playlists", user.token, "Content-Length: 60000000\r\n"), [b"{" + b" " * 65535])
    assert status == 413 and sent <= 1
    assert json.loads(data.split(b"\r\n\r\n", 1)[1]) == {"detail": "request body is larger than 1048576 bytes"}


async def test_a_chunked_body_is_cut_off_at_the_limit(api_url: str, user: ApiUser) -> None:
    chunk = b" " * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    parts = [b'1\r\n{\r\n'] + [frame] * 900  # ~59 MB if it were all read
    status, _, sent = await raw_exchange(api_url, head("/api/playlists", user.token,
                                                       "Transfer-Encoding: chunked\r\n"), parts)
    assert status == 413
    assert sent < 300  # the answer came long before the body's end (kernel buffers take the slack)


def test_the_local_runtime_binds_the_api_to_loopback(api_url: str) -> None:
    port = urlsplit(api_url).port
    if os.environ.get("SPOTCTL_TEST_EXTERNAL") == "1":
        pytest.skip("the external API was started by this session, not by the local runtime")
    listening = {c.laddr.ip for c in psutil.net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
    assert listening == {"127.0.0.1"}


def test_compose_binds_all_interfaces_in_containers_and_loopback_locally() -> None:
    from spotctl import project
    from spotctl.stack import plan
    from spotctl.stack.compose import load

    proj = project.current()
    compose = load(proj.compose_file)
    for name in ("api", "hub", "workers"):
        service = compose.services[name]
        assert service.environment["BIND_HOST"] == "0.0.0.0"  # what Docker Compose gives the container
        assert plan.service_env(service, compose, proj)["BIND_HOST"] == "127.0.0.1"  # the local runtime


def test_the_development_secret_is_refused_outside_development(api_env: dict[str, str]) -> None:
    env = {**os.environ, **api_env, "SPOTCTL_ENV": "production", "PORT": "1"}
    env["JWT_SECRET"] = "dev-only-jwt-secret-change-me-in-production"
    proc = subprocess.run([sys.executable, "-m", "spotctl_sandbox.api"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("api: refusing to start: JWT_SECRET is the development secret")
    assert "Traceback" not in proc.stderr
    env["JWT_SECRET"] = "a-real-secret-of-enough-length-0123456789"
    proc = subprocess.run([sys.executable, "-m", "spotctl_sandbox.api"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "ADMIN_PASSWORD is the development one" in proc.stderr


async def test_tokens_never_reach_the_log(spawn_api: Callable[..., Awaitable[SpawnedApi]]) -> None:
    api = await spawn_api(LOG_LEVEL="DEBUG")
    async with httpx.AsyncClient(base_url=api.url, timeout=15) as http:
        user = await register_and_login(http)
        await http.get("/api/auth/me", headers=user.auth)
        await http.get("/api/auth/me", headers={"Authorization": f"Bearer {user.token}x"})  # refused, logged
        await http.get(f"/api/search?q=x&token={user.token}")
        await http.post("/api/auth/logout", headers=user.auth)
        await http.get("/api/auth/me", headers=user.auth)  # revoked: refused, logged
    log = api.log.read_text()
    assert "audit auth_failure" in log  # the refusals were logged ...
    assert user.token not in log and user.token.split(".")[1] not in log  # ... without the token


def test_redaction_blanks_jwt_shaped_text_only() -> None:
    from spotctl_sandbox.common.logredact import redact

    assert redact("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl ok") == "Bearer <token redacted> ok"
    assert redact("version 1.2.3 of eyJ") == "version 1.2.3 of eyJ"
