"""The document store, named: MongoDB's collections when the runtime has one (`spotctl mongo
collections`), else the PostgreSQL JSONB table the API keeps playlists in instead. Enter lists a
collection's newest documents; Enter on one shows it in full."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from spotctl.inspect.values import cell
from spotctl.tui import data
from spotctl.tui.components.table_screen import Row, TableScreen
from spotctl.tui.data import Sources


class DocsScreen(TableScreen):
    COLUMNS = ("collection", "documents", "indexes")
    HEADING = "document store"
    INTERVAL_S = 10.0

    def __init__(self, sources: Sources) -> None:
        super().__init__(sources)
        self.store = ""

    def fetch(self) -> list[Row]:
        self.store, collections = data.doc_store(self.sources)
        return [(c["name"], c["count"], ", ".join(i["name"] for i in c["indexes"])) for c in collections]

    def status_text(self) -> str:
        return f"{escape(self.store or self.HEADING)} [dim]({escape(self.grid.summary())})[/]"

    def drill(self, key: str) -> None:
        self.app.push_screen(DocumentsScreen(self.sources, key))


class DocumentsScreen(TableScreen):
    COLUMNS = ("_id", "document")
    INTERVAL_S = 0

    def __init__(self, sources: Sources, collection: str) -> None:
        super().__init__(sources)
        self.collection = collection
        self.HEADING = f"newest documents of {collection}"
        self.docs: dict[str, Any] = {}

    def fetch(self) -> list[Row]:
        found = data.doc_find(self.sources, self.collection)
        self.docs = {str(_id(d)): d for d in found}
        return [(key, cell({k: v for k, v in d.items() if k != "_id"}, 120)) for key, d in self.docs.items()]

    def drill(self, key: str) -> None:
        from spotctl.tui.components.detail import DetailScreen

        if key in self.docs:
            self.app.push_screen(DetailScreen(self.sources, f"{self.collection} {key}", body=self.docs[key]))


def _id(doc: Any) -> Any:
    """MongoDB's `_id` in relaxed extended JSON is `{"$oid": "..."}`: show the hex."""
    value = doc.get("_id") if isinstance(doc, dict) else None
    return value.get("$oid", value) if isinstance(value, dict) else value
