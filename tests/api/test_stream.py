"""Streaming: real WAV bytes, HTTP Range (206 + Content-Range), 416 outside the file, signed links."""

from __future__ import annotations

import io
import time
import wave
from pathlib import Path

import httpx
import pytest

from spotctl_sandbox.api import signing
from tests.api.conftest import ApiUser

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]

SONG = 11


@pytest.fixture
async def link(http: httpx.AsyncClient, user: ApiUser) -> str:
    resp = await http.post(f"/api/songs/{SONG}/play", headers=user.auth)
    assert resp.status_code == 200
    return str(resp.json()["stream_path"])


def audio_file(api_env: dict[str, str], http_headers: httpx.Headers) -> bytes:
    files = sorted(Path(api_env["MEDIA_DIR"]).glob("*.wav"))
    size = int(http_headers["content-range"].rsplit("/", 1)[1])
    return next(f.read_bytes() for f in files if f.stat().st_size == size)


async def test_full_stream_is_a_playable_wav(http: httpx.AsyncClient, link: str) -> None:
    resp = await http.get(link)
    assert resp.status_code == 200
    assert resp.headers["accept-ranges"] == "bytes"
    assert resp.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(resp.content)) as w:
        assert w.getnchannels() == 1 and w.getframerate() == 22_050 and w.getnframes() > 22_050


async def test_range_gives_206_with_the_exact_bytes(http: httpx.AsyncClient, link: str,
                                                    api_env: dict[str, str]) -> None:
    resp = await http.get(link, headers={"Range": "bytes=100-1123"})
    assert resp.status_code == 206
    assert resp.headers["content-range"].startswith("bytes 100-1123/")
    assert resp.headers["content-length"] == "1024"
    assert resp.content == audio_file(api_env, resp.headers)[100:1124]


async def test_suffix_range_gives_the_tail(http: httpx.AsyncClient, link: str, api_env: dict[str, str]) -> None:
    resp = await http.get(link, headers={"Range": "bytes=-500"})
    assert resp.status_code == 206
    size = int(resp.headers["content-range"].rsplit("/", 1)[1])
    assert resp.headers["content-range"] == f"bytes {size - 500}-{size - 1}/{size}"
    assert resp.content == audio_file(api_env, resp.headers)[-500:]


async def test_range_past_the_end_is_416_with_the_size(http: httpx.AsyncClient, link: str) -> None:
    resp = await http.get(link, headers={"Range": "bytes=99999999-"})
    assert resp.status_code == 416
    assert resp.headers["content-range"].startswith("bytes */")


async def test_tampered_or_expired_links_are_403(http: httpx.AsyncClient, link: str,
                                                 api_env: dict[str, str]) -> None:
    tampered = link.replace(f"/stream/{SONG}?", f"/stream/{SONG + 1}?")
    resp = await http.get(tampered)
    assert resp.status_code == 403 and resp.json()["detail"] == "stream link signature is invalid"
    expired = signing.sign(api_env["JWT_SECRET"], SONG, int(time.time()) - 5)
    resp = await http.get(expired)
    assert resp.status_code == 403 and resp.json()["detail"].startswith("stream link expired")


async def test_missing_signature_is_422_naming_it(http: httpx.AsyncClient) -> None:
    resp = await http.get(f"/stream/{SONG}", params={"expires": 1})
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["query.signature"]


@pytest.mark.parametrize("header", ["bytes=5-2", "bytes=abc", "items=0-1", "bytes=", "bytes=--"])
async def test_an_unparsable_range_is_ignored_and_the_whole_file_sent(http: httpx.AsyncClient, link: str,
                                                                    header: str) -> None:
    whole = await http.get(link)
    resp = await http.get(link, headers={"Range": header})
    assert resp.status_code == 200 and "content-range" not in resp.headers
    assert resp.content == whole.content


async def test_a_non_ascii_signature_is_422_not_500(http: httpx.AsyncClient) -> None:
    resp = await http.get(f"/stream/{SONG}", params={"expires": 1, "signature": "é" * 64})
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["query.signature"]
