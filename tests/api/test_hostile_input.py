"""Hostile input gets a clear 4xx naming the field, never a 500: NaN and Infinity (which JSON has not,
and a JavaScript client cannot read back), NUL and lone surrogates (which PostgreSQL refuses), JSON
nested thousands deep, and a generic 500 that carries no traceback."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import ApiUser

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(("body", "field"), [
    (b'{"name": "x", "song_ids": [1, NaN]}', "body.song_ids.1"),
    (b'{"name": "x", "extra": {"volume": Infinity}}', "body.extra.volume"),
    (b'{"name": "x", "description": "d", "weight": -Infinity}', "body.weight"),
    (b'{"name": "x", "weight": 1e999}', "body.weight"),
])
async def test_non_finite_numbers_are_422_naming_the_field(http: httpx.AsyncClient, user: ApiUser,
                                                           body: bytes, field: str) -> None:
    resp = await http.post("/api/playlists", headers={**user.auth, **JSON}, content=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["field"] == field
    assert "finite number" in resp.json()["detail"]


@pytest.mark.parametrize(("body", "field", "reason"), [
    ('{"name": "a\\u0000b"}', "body.name", "NUL"),
    ('{"name": "ok", "description": "\\ud800"}', "body.description", "lone surrogate"),
    ('{"name": "ok", "tags": {"k\\u0000": 1}}', "body.tags", "NUL"),
])
async def test_unstorable_strings_are_422_naming_the_field(http: httpx.AsyncClient, user: ApiUser,
                                                           body: str, field: str, reason: str) -> None:
    resp = await http.post("/api/playlists", headers={**user.auth, **JSON}, content=body.encode())
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["field"] == field and reason in resp.json()["detail"]


async def test_nul_in_a_query_is_422_unauthenticated(http: httpx.AsyncClient) -> None:
    resp = await http.get("/api/search?q=a%00b")
    assert resp.status_code == 422
    assert resp.json()["errors"] == [{"field": "query.q", "message": "must not contain NUL characters"}]


async def test_json_nested_thousands_deep_is_a_4xx(http: httpx.AsyncClient, user: ApiUser) -> None:
    deep = b'{"name": "x", "d": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    resp = await http.post("/api/playlists", headers={**user.auth, **JSON}, content=deep)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.headers["content-type"] == "application/json"


async def test_ids_beyond_64_bits_are_422(http: httpx.AsyncClient, user: ApiUser) -> None:
    resp = await http.post("/api/playlists", headers=user.auth, json={"name": "x", "song_ids": [2**70]})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "body.song_ids.0"
    resp = await http.post("/api/releases", headers=user.auth, json={"artist_id": 2**64, "title": "t"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "body.artist_id"
