"""`spotctl mongo`: one clear line when the runtime has no MongoDB; real queries when one is configured."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.stack


def test_without_mongodb_every_command_says_so_in_one_line(cli, stack: Any) -> None:
    if stack.env.get("MONGO_URL"):
        pytest.skip("this stack has a MongoDB (MONGO_URL is set)")
    for args in (("dbs",), ("find", "playlists")):
        result = cli("mongo", *args, env={"MONGO_URL": ""})
        assert result.code == 1, result
        assert "no MongoDB" in result.err and "spotctl up --runtime docker mongo" in result.err
        assert "Traceback" not in result.err and result.out == ""


def test_unreachable_mongodb_url_is_service_down(cli, closed_port) -> None:
    url = f"mongodb://127.0.0.1:{closed_port()}/spotify"
    assert cli("mongo", "dbs", "--url", url).down("mongo", url)


def test_bad_filter_is_a_usage_error(cli, closed_port) -> None:
    result = cli("mongo", "find", "playlists", "{not json", "--url", f"mongodb://127.0.0.1:{closed_port()}/x")
    assert result.code == 2 and "not valid JSON" in result.err


@pytest.fixture
def coll(stack: Any, uid: str) -> Iterator[str]:
    url = stack.env.get("MONGO_URL")
    if not url:
        pytest.skip("no MongoDB in this runtime (MONGO_URL unset); the docker runtime has one")
    import pymongo

    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(url, serverSelectionTimeoutMS=3000)
    c = client.get_default_database()[uid]
    c.insert_many([{"owner": "1", "n": i} for i in range(3)] + [{"owner": "2", "n": 9}])
    c.create_index("owner")
    yield uid
    c.drop()
    client.close()


def test_collections_find_and_count_on_a_real_mongodb(cli, coll: str) -> None:
    listed = cli("mongo", "collections", "-o", "json")
    assert listed.code == 0, listed
    mine = next(c for c in listed.json() if c["name"] == coll)
    assert mine["count"] == 4 and {i["name"] for i in mine["indexes"]} == {"_id_", "owner_1"}

    found = cli("mongo", "find", coll, '{"owner": "1"}', "--sort", "-n", "--limit", "2", "-o", "json").json()
    assert [d["n"] for d in found] == [2, 1] and "$oid" in found[0]["_id"]
    assert cli("mongo", "count", coll, '{"owner": "1"}', "-o", "json").json()["count"] == 3
    assert any(d["name"] for d in cli("mongo", "dbs", "-o", "json").json())
