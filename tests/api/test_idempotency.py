"""Idempotency-Key on writes: a retry returns the first answer and writes nothing; a key reused for
another request is a 422 naming the header; two attempts at once store one row."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import psycopg
import pytest

from tests.api.conftest import ApiUser, register_and_login

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]


def keyed(user: ApiUser, key: str) -> dict[str, str]:
    return {**user.auth, "Idempotency-Key": key}


def stored(pg: psycopg.Connection, name: str) -> int:
    row = pg.execute("SELECT count(*) FROM playlists WHERE doc->>'name' = %s", (name,)).fetchone()
    return int(row[0]) if row else 0


async def test_a_retried_create_returns_the_first_answer_and_stores_one_row(
        http: httpx.AsyncClient, user: ApiUser, pg: psycopg.Connection) -> None:
    key, name = str(uuid.uuid4()), f"once {uuid.uuid4().hex[:8]}"
    first = await http.post("/api/playlists", headers=keyed(user, key), json={"name": name})
    again = await http.post("/api/playlists", headers=keyed(user, key), json={"name": name})

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert stored(pg, name) == 1


async def test_a_retried_play_is_the_same_play(http: httpx.AsyncClient, user: ApiUser) -> None:
    key = str(uuid.uuid4())
    first = await http.post("/api/songs/9/play", headers=keyed(user, key))
    again = await http.post("/api/songs/9/play", headers=keyed(user, key))
    assert first.status_code == again.status_code == 200
    assert again.json()["event"] == first.json()["event"] and again.json()["job"] == first.json()["job"]


async def test_the_same_key_for_another_request_is_a_422_naming_the_header(
        http: httpx.AsyncClient, user: ApiUser, pg: psycopg.Connection) -> None:
    key, name = str(uuid.uuid4()), f"first {uuid.uuid4().hex[:8]}"
    assert (await http.post("/api/playlists", headers=keyed(user, key), json={"name": name})).status_code == 201

    other = await http.post("/api/playlists", headers=keyed(user, key), json={"name": name + " (2)"})

    assert other.status_code == 422
    assert other.json()["detail"].startswith("header.Idempotency-Key: ")
    assert stored(pg, name + " (2)") == 0


async def test_keys_belong_to_their_user(http: httpx.AsyncClient, user: ApiUser, pg: psycopg.Connection) -> None:
    other = await register_and_login(http)
    key, name = str(uuid.uuid4()), f"mine {uuid.uuid4().hex[:8]}"
    mine = await http.post("/api/playlists", headers=keyed(user, key), json={"name": name})
    theirs = await http.post("/api/playlists", headers=keyed(other, key), json={"name": name})
    assert mine.status_code == theirs.status_code == 201
    assert theirs.json()["user_id"] == other.id and "Idempotent-Replayed" not in theirs.headers
    assert stored(pg, name) == 2


async def test_two_attempts_at_once_store_one_row_and_give_one_answer(
        http: httpx.AsyncClient, user: ApiUser, pg: psycopg.Connection) -> None:
    key, name = str(uuid.uuid4()), f"race {uuid.uuid4().hex[:8]}"
    answers = await asyncio.gather(*(http.post("/api/playlists", headers=keyed(user, key), json={"name": name})
                                     for _ in range(4)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert stored(pg, name) == 1


async def test_an_error_is_not_remembered(http: httpx.AsyncClient, user: ApiUser) -> None:
    """A refused write left nothing behind, so the same key runs it again (here: it is refused again,
    for its own reason, not replayed)."""
    key = str(uuid.uuid4())
    for _ in range(2):
        resp = await http.post("/api/songs/999999991/play", headers=keyed(user, key))
        assert resp.status_code == 404 and "Idempotent-Replayed" not in resp.headers


@pytest.mark.parametrize("bad", ["", "x" * 201, "with space", "naïve"])
async def test_a_malformed_key_is_a_422_naming_the_header(http: httpx.AsyncClient, user: ApiUser, bad: str) -> None:
    headers = {k.encode(): v.encode() for k, v in user.auth.items()} | {b"Idempotency-Key": bad.encode()}
    resp = await http.post("/api/playlists", headers=headers, json={"name": "never"})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "header.Idempotency-Key"
