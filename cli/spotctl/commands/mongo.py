"""`spotctl mongo`: databases, collections with counts and indexes, find and count with a JSON filter.

The local runtime has no MongoDB (no server package is installable here); then every command says so in
one line and how to get one, instead of timing out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from spotctl.output import OutputFormat, OutputOpt, emit, print_json

if TYPE_CHECKING:
    from spotctl.clients.mongo import MongoClient

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
def connect(url: str | None) -> Iterator[MongoClient]:
    """The MongoDB client for `--url`, else $MONGO_URL, else the stack's (one clear line when there is none)."""
    from spotctl.clients.mongo import MongoClient
    from spotctl.endpoints import resolve

    with MongoClient(resolve({KEY: url}).mongo_url) as client:
        yield client


@app.command("dbs")
def dbs_cmd(url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Databases with their size on disk."""
    from spotctl.inspect.values import human_bytes

    with connect(url) as mongo:
        dbs = mongo.dbs()
    emit(dbs, output, ("database", "size", "empty"), [(d["name"], human_bytes(d["bytes"]), d["empty"]) for d in dbs])


@app.command("collections")
def collections_cmd(db: DbOpt = None, url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Collections with document counts and their indexes."""
    with connect(url) as mongo:
        db_name, colls = mongo.collections(db)
    emit(colls, output, ("collection", "documents", "indexes"),
         [(c["name"], c["count"], ", ".join(i["name"] for i in c["indexes"])) for c in colls], title=db_name)


@app.command("find")
def find_cmd(collection: str, filter_json: FilterArg = "{}",
             limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 20,
             sort: Annotated[str | None, typer.Option("--sort", help="Field; '-field' for descending.")] = None,
             db: DbOpt = None, url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Documents matching FILTER_JSON (at most --limit)."""
    from spotctl.clients.mongo import parse_filter
    from spotctl.inspect.values import cell

    query = parse_filter(filter_json)
    with connect(url) as mongo:
        docs = mongo.find(collection, query, limit=limit, sort=sort, db=db)
    if output is OutputFormat.json:
        print_json(docs)
        return
    columns = list(dict.fromkeys(k for doc in docs for k in doc))
    emit(None, output, columns, [[cell(doc.get(c, ""), 40) for c in columns] for doc in docs])


@app.command("count")
def count_cmd(collection: str, filter_json: FilterArg = "{}", db: DbOpt = None, url: UrlOpt = None,
              output: OutputOpt = OutputFormat.table) -> None:
    """How many documents match FILTER_JSON (exact count)."""
    from spotctl.clients.mongo import parse_filter, plain

    query = parse_filter(filter_json)
    with connect(url) as mongo:
        n = mongo.count(collection, query, db)
    emit({"collection": collection, "filter": plain(query), "count": n}, output, ("collection", "count"),
         [(collection, n)])
