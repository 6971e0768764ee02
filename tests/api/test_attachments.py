"""POST /api/attachments and GET /api/attachments/{id} against the real API, hub and PostgreSQL: limits,
content sniffing, the object-store folder, and downloads for the members of a channel it was shared in."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from spotctl_sandbox.api.attachments import accepted_type, clean_name, sniff

from .conftest import ApiUser, register_and_login

pytestmark = pytest.mark.stack


def png(width: int = 2) -> bytes:
    """A real (tiny) PNG image."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(width))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, width, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def status_of_a_big_upload(http: httpx.AsyncClient, user: ApiUser) -> int:
    """A 2 MB upload as a client sends one; the API answers 413 before the body is read (and closes the
    connection, so this speaks HTTP on a socket of its own rather than through httpx)."""
    import asyncio

    url = http.base_url
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(f"POST /api/attachments?name=big.txt HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer {user.token}"
                 f"\r\nContent-Type: text/plain\r\nContent-Length: 2000000\r\n\r\n".encode() + b"a" * 65536)
    await writer.drain()
    answer = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return int(answer.split()[1])


def test_what_is_accepted_is_what_the_bytes_are() -> None:
    assert sniff(png()) == "image/png" and sniff(b"%PDF-1.7\n...") == "application/pdf"
    assert sniff("une note, déjà".encode()) == "text/plain" and sniff(b"\x00\x01\x02binary") is None
    assert accepted_type("image/png", png()) == "image/png"
    assert accepted_type("text/plain; charset=utf-8", b"hello") == "text/plain"
    for declared, data in (("image/png", b"<script>alert(1)</script>"), ("text/html", b"<b>hi</b>"),
                           ("application/pdf", png()), ("", b"hello")):
        with pytest.raises(Exception) as refused:
            accepted_type(declared, data)
        assert getattr(refused.value, "status", None) == 415, declared
    assert clean_name("../../etc/passwd") == "passwd" and clean_name("C:\\Users\\me\\cover.png") == "cover.png"


@pytest.fixture
async def hub_of(api_env: dict[str, str], stack: Any) -> AsyncIterator[Any]:
    """`await hub_of(user)`: that API user on the real hub (the API's token is the hub's too)."""
    from spotctl_sandbox.realtime.client import HubClient

    stack.up("hub")
    clients: list[HubClient] = []

    async def connect(user: ApiUser) -> HubClient:
        client = HubClient(stack.env["HUB_URL"], user.token)
        await client.connect()
        clients.append(client)
        return client

    yield connect
    for client in clients:
        await client.close()


async def test_an_attachment_is_stored_then_shared_in_a_channel_for_its_members_only(
        http: httpx.AsyncClient, api_env: dict[str, str], hub_of: Any) -> None:
    alice, bob, eve = [await register_and_login(http) for _ in range(3)]
    image = png()
    sent = await http.post("/api/attachments", params={"name": "../cover.png"}, content=image,
                           headers={**alice.auth, "Content-Type": "image/png"})
    assert sent.status_code == 201, sent.text
    ref = sent.json()["attachment"]
    assert ref == {"id": ref["id"], "name": "cover.png", "size": len(image), "type": "image/png"}
    stored = Path(api_env["MEDIA_DIR"]) / "attachments" / ref["id"][:2] / ref["id"]
    assert stored.read_bytes() == image  # in the object-store folder (the media volume)

    url = sent.json()["url"]
    assert (await http.get(url, headers=bob.auth)).status_code == 404  # not shared yet
    mine = await http.get(url, headers=alice.auth)
    assert mine.status_code == 200 and mine.content == image and mine.headers["content-type"] == "image/png"
    assert 'filename="cover.png"' in mine.headers["content-disposition"]

    sender = await hub_of(alice)
    channel = (await sender.request("channel_create", {"kind": "private", "name": "pics",
                                                       "members": [bob.id]}))["channel"]
    await sender.request("channel_join", {"channel_id": channel["id"]})
    await sender.request("chat_message", {"channel_id": channel["id"], "text": "look", "attachments": [ref]})

    got = await http.get(url, headers=bob.auth)
    assert got.status_code == 200 and got.content == image
    stranger = await http.get(url, headers=eve.auth)
    assert stranger.status_code == 404 and "shared with you" in stranger.json()["detail"]
    assert (await http.get(url)).status_code == 401


async def test_uploads_over_the_limit_or_not_what_they_claim_are_refused_and_leave_nothing(
        http: httpx.AsyncClient, api_env: dict[str, str], user: ApiUser) -> None:
    folder = Path(api_env["MEDIA_DIR"]) / "attachments"
    before = sorted(folder.rglob("*")) if folder.exists() else []
    fake = await http.post("/api/attachments", params={"name": "x.png"}, content=b"<html>not a picture</html>",
                           headers={**user.auth, "Content-Type": "image/png"})
    assert fake.status_code == 415 and "content is text/plain" in fake.json()["detail"]
    exe = await http.post("/api/attachments", params={"name": "x.exe"}, content=b"MZ\x90\x00" * 10,
                          headers={**user.auth, "Content-Type": "application/octet-stream"})
    assert exe.status_code == 415
    assert await status_of_a_big_upload(http, user) == 413
    anonymous = await http.post("/api/attachments", params={"name": "a.txt"}, content=b"hi",
                                headers={"Content-Type": "text/plain"})
    assert anonymous.status_code == 401
    assert (sorted(folder.rglob("*")) if folder.exists() else []) == before
