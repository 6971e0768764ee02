"""`spotctl mongo`: databases, collections with counts and indexes, find and count with a JSON filter.

The local runtime has no MongoDB (no server package is installable here); then every command says so in
one line and how to get one, instead of timing out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spotctl.output import OutputFormat, OutputOpt, emit, print_json

if TYPE_CHECKING:
    from pymongo import MongoClient
    from pymongo.database import Database

KEY = "MONGO_URL"
UrlOpt = Annotated[str | None, typer.Option("--url", help="MongoDB URL (default: $MONGO_URL, then the stack).",
                                           show_default=False)]
DbOpt = Annotated[str | None, typer.Option("--db", "-d", help="Database (default: the one in the URL).")]
FilterArg = Annotated[str, typer.Argument(metavar="[FILTER_JSON]", help="Query filter as (extended) JSON, "
                                          "e.g. '{\"owner\": \"42\"}'.")]

app = typer.Typer(help="Inspect MongoDB: databases, collections, find and count.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="mongo", help="Inspect MongoDB (dbs, collections, find, count).")


@contextmanager
def connect(url: str | None) -> Iterator[MongoClient[dict[str, Any]]]:
    import pymongo
    import pymongo.errors as me

    from spotctl.endpoints import resolve
    from spotctl.errors import SpotctlError
    from spotctl.inspect.reach import reaching

    target = resolve({KEY: url}).mongo_url
    if target is None:
        raise SpotctlError("this runtime has no MongoDB (none is installable for the local runtime; the "
                           "stack keeps playlists in PostgreSQL JSONB instead)",
                           hint="run one with `spotctl up --runtime docker mongo`, or point MONGO_URL / --url "
                                "at a MongoDB")
    client: MongoClient[dict[str, Any]] = pymongo.MongoClient(target, serverSelectionTimeoutMS=2500,
                                                              connectTimeoutMS=2500)
    try:
        with reaching(KEY, target, me.ServerSelectionTimeoutError, me.ConnectionFailure):
            client.admin.command("ping")
        try:
            yield client
        except me.OperationFailure as exc:
            raise SpotctlError(f"mongodb refused: {exc.details.get('errmsg') if exc.details else exc}") from None
    finally:
        client.close()


def database(client: MongoClient[dict[str, Any]], name: str | None) -> Database[dict[str, Any]]:
    from pymongo.errors import ConfigurationError

    from spotctl.errors import UsageError

    if name:
        return client[name]
    try:
        return client.get_default_database()
    except ConfigurationError:
        raise UsageError("no database in the URL; pass --db NAME") from None


def plain(doc: Any) -> Any:
    """BSON as relaxed extended JSON (ObjectId -> {"$oid": ...}), the way mongosh --json prints it."""
    import json

    from bson import json_util

    return json.loads(json_util.dumps(doc, json_options=json_util.RELAXED_JSON_OPTIONS))


def parse_filter(text: str) -> dict[str, Any]:
    from bson import json_util

    from spotctl.errors import UsageError

    try:
        value = json_util.loads(text)
    except ValueError as exc:
        raise UsageError(f"filter is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError("the filter must be a JSON object")
    return value


@app.command("dbs")
def dbs_cmd(url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Databases with their size on disk."""
    from spotctl.inspect.values import human_bytes

    with connect(url) as client:
        dbs = [{"name": d["name"], "bytes": int(d.get("sizeOnDisk", 0)), "empty": bool(d.get("empty"))}
               for d in client.list_databases()]
    emit(dbs, output, ("database", "size", "empty"), [(d["name"], human_bytes(d["bytes"]), d["empty"]) for d in dbs])


@app.command("collections")
def collections_cmd(db: DbOpt = None, url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Collections with document counts and their indexes."""
    with connect(url) as client:
        d = database(client, db)
        colls: list[dict[str, Any]] = []
        for name in sorted(d.list_collection_names()):
            coll = d[name]
            indexes = [{"name": i["name"], "keys": dict(i["key"]), "unique": bool(i.get("unique"))}
                       for i in coll.list_indexes()]
            colls.append({"name": name, "count": coll.estimated_document_count(), "indexes": indexes})
    emit(colls, output, ("collection", "documents", "indexes"),
         [(c["name"], c["count"], ", ".join(i["name"] for i in c["indexes"])) for c in colls], title=d.name)


@app.command("find")
def find_cmd(collection: str, filter_json: FilterArg = "{}",
             limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 20,
             sort: Annotated[str | None, typer.Option("--sort", help="Field; '-field' for descending.")] = None,
             db: DbOpt = None, url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Documents matching FILTER_JSON (at most --limit)."""
    from spotctl.inspect.values import cell

    query = parse_filter(filter_json)
    with connect(url) as client:
        cursor = database(client, db)[collection].find(query).limit(limit)
        if sort:
            cursor = cursor.sort(sort.lstrip("-"), -1 if sort.startswith("-") else 1)
        docs = [plain(doc) for doc in cursor]
    if output is OutputFormat.json:
        print_json(docs)
        return
    columns = list(dict.fromkeys(k for doc in docs for k in doc))
    emit(None, output, columns, [[cell(doc.get(c, ""), 40) for c in columns] for doc in docs])


@app.command("count")
def count_cmd(collection: str, filter_json: FilterArg = "{}", db: DbOpt = None, url: UrlOpt = None,
              output: OutputOpt = OutputFormat.table) -> None:
    """How many documents match FILTER_JSON (exact count)."""
    query = parse_filter(filter_json)
    with connect(url) as client:
        n = database(client, db)[collection].count_documents(query)
    emit({"collection": collection, "filter": plain(query), "count": n}, output, ("collection", "count"),
         [(collection, n)])
