"""MongoDB (pymongo): databases, collections with counts and indexes, find and count.

When no MongoDB answers (the local runtime runs one only when `mongod` is on PATH or `MONGO_URL` names
a server; no server package is installable on this machine), the client says so in one line and how
to get one, instead of timing out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from spotctl.clients.reach import reaching
from spotctl.errors import SpotctlError, UsageError

if TYPE_CHECKING:
    from pymongo import MongoClient as PyMongoClient
    from pymongo.database import Database

KEY = "MONGO_URL"
Document = dict[str, Any]


class MongoClient:
    """A pymongo client that has answered `ping`; `url` None means this runtime has no MongoDB."""

    def __init__(self, url: str | None) -> None:
        import pymongo
        import pymongo.errors as me

        if url is None:
            raise SpotctlError("no MongoDB in this stack: the local runtime runs one when mongod is on PATH "
                               "or MONGO_URL names a server (meanwhile playlists use the PostgreSQL JSONB "
                               "fallback)",
                               hint="put mongod on PATH and `spotctl up mongo`, point MONGO_URL / --url at a "
                                    "MongoDB, or `spotctl up --runtime docker mongo`")
        self.url = url
        self.client: PyMongoClient[Document] = pymongo.MongoClient(url, serverSelectionTimeoutMS=2500,
                                                                   connectTimeoutMS=2500)
        try:
            with reaching(KEY, url, me.ServerSelectionTimeoutError, me.ConnectionFailure):
                self.client.admin.command("ping")
        except BaseException:
            self.client.close()
            raise

    def __enter__(self) -> MongoClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    @contextmanager
    def calls(self) -> Iterator[None]:
        import pymongo.errors as me

        with reaching(KEY, self.url, me.ServerSelectionTimeoutError, me.ConnectionFailure):
            try:
                yield
            except me.OperationFailure as exc:
                raise SpotctlError(f"mongodb refused: {exc.details.get('errmsg') if exc.details else exc}") from None

    def database(self, name: str | None) -> Database[Document]:
        """The named database, or the one in the URL."""
        from pymongo.errors import ConfigurationError

        if name:
            return self.client[name]
        try:
            return self.client.get_default_database()
        except ConfigurationError:
            raise UsageError("no database in the URL; pass --db NAME") from None

    def dbs(self) -> list[dict[str, Any]]:
        """Databases with their size on disk."""
        with self.calls():
            return [{"name": d["name"], "bytes": int(d.get("sizeOnDisk", 0)), "empty": bool(d.get("empty"))}
                    for d in self.client.list_databases()]

    def collections(self, db: str | None) -> tuple[str, list[dict[str, Any]]]:
        """The database's name, and its collections with document counts and indexes."""
        d = self.database(db)
        colls: list[dict[str, Any]] = []
        with self.calls():
            for name in sorted(d.list_collection_names()):
                coll = d[name]
                indexes = [{"name": i["name"], "keys": dict(i["key"]), "unique": bool(i.get("unique"))}
                           for i in coll.list_indexes()]
                colls.append({"name": name, "count": coll.estimated_document_count(), "indexes": indexes})
        return d.name, colls

    def find(self, collection: str, query: Document, *, limit: int, sort: str | None,
             db: str | None) -> list[Any]:
        """Documents matching `query` as relaxed extended JSON; `sort` is a field, '-field' descending."""
        with self.calls():
            cursor = self.database(db)[collection].find(query).limit(limit)
            if sort:
                cursor = cursor.sort(sort.lstrip("-"), -1 if sort.startswith("-") else 1)
            return [plain(doc) for doc in cursor]

    def count(self, collection: str, query: Document, db: str | None) -> int:
        with self.calls():
            return int(self.database(db)[collection].count_documents(query))


def plain(doc: Any) -> Any:
    """BSON as relaxed extended JSON (ObjectId -> {"$oid": ...}), the way mongosh --json prints it."""
    import json

    from bson import json_util

    return json.loads(json_util.dumps(doc, json_options=json_util.RELAXED_JSON_OPTIONS))


def parse_filter(text: str) -> Document:
    """A filter given as (extended) JSON; anything else is a usage error."""
    from bson import json_util

    try:
        value = json_util.loads(text)
    except ValueError as exc:
        raise UsageError(f"filter is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError("the filter must be a JSON object")
    return value
