"""RabbitMQ: queues live (`spotctl rabbit queues`); Enter peeks at a queue's first messages (requeued),
`p` purges and `R` re-drives its dead letters, each after the CLI's question with the count."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.binding import Binding

from spotctl.inspect.rabbit_view import DLQ_SUFFIX
from spotctl.inspect.values import cell
from spotctl.tui import brokers
from spotctl.tui.components.table_screen import Row, TableScreen
from spotctl.tui.data import Sources

ACTIONS = [Binding("p", "purge", "Purge"), Binding("R", "redrive", "Redrive")]


class _QueueActions(TableScreen):
    """Purge and re-drive, on the queue `queue_name()` names."""

    WRITES = frozenset({"purge", "redrive"})

    def queue_name(self) -> str | None:
        raise NotImplementedError

    def action_purge(self) -> None:
        if queue := self.queue_name():
            self.confirmed(lambda: brokers.rabbit_purge_question(self.sources, queue),
                           lambda: f"purged {brokers.rabbit_purge(self.sources, queue)} message(s) from {queue}",
                           self.action_refresh)

    def action_redrive(self) -> None:
        if queue := self.queue_name():
            def act() -> str:
                moved = brokers.rabbit_redrive(self.sources, queue)
                return "moved " + ", ".join(f"{n} to {dest}" for dest, n in moved.items()) if moved else "moved none"

            self.confirmed(lambda: brokers.rabbit_redrive_question(self.sources, queue), act, self.action_refresh)


class RabbitScreen(_QueueActions):
    BINDINGS = [*TableScreen.BINDINGS, *ACTIONS]
    COLUMNS = ("queue", "ready", "unacked", "consumers", "in/s", "out/s", "state", "dlx")
    HEADING = "rabbitmq queues (vhost /)"

    def fetch(self) -> list[Row]:
        return [(q["name"], q["ready"], q["unacked"], q["consumers"], q["publish_rate"], q["deliver_rate"],
                 q["state"], q["dead_letter_exchange"] or "") for q in brokers.rabbit_queues(self.sources)]

    def cells(self, row: Row) -> Sequence[Any]:
        name, ready, unacked, consumers, rate_in, rate_out, state, dlx = row
        dead = name.endswith(DLQ_SUFFIX) and ready
        return (Text(name, style="bold" if dead else ""), Text(str(ready), style="bold red" if dead else ""),
                Text(str(unacked)), Text(str(consumers)), Text(f"{rate_in:g}"), Text(f"{rate_out:g}"),
                Text(str(state)), Text(str(dlx)))

    def queue_name(self) -> str | None:
        return self.selected_key()

    def drill(self, key: str) -> None:
        self.app.push_screen(QueueScreen(self.sources, key))


class QueueScreen(_QueueActions):
    """`spotctl rabbit peek QUEUE 20`: the first messages, fetched and put back."""

    BINDINGS = [*TableScreen.BINDINGS, *ACTIONS]
    COLUMNS = ("#", "routing key", "redelivered", "died", "body")
    INTERVAL_S = 0  # each peek requeues: read once, r reads again

    def __init__(self, sources: Sources, queue: str) -> None:
        super().__init__(sources)
        self.queue = queue
        self.HEADING = f"peek {queue}"
        self.messages: dict[str, dict[str, Any]] = {}
        self.total = 0

    def queue_name(self) -> str | None:
        return self.queue

    def fetch(self) -> list[Row]:
        self.total, messages = brokers.rabbit_peek(self.sources, self.queue)
        self.messages = {str(m["index"]): m for m in messages}
        return [(m["index"], m["routing_key"], "yes" if m["redelivered"] else "",
                 (m["death"] or {}).get("reason") or "", cell(m["body"], 100)) for m in messages]

    def status_text(self) -> str:
        return (f"{escape(self.HEADING)} [dim]({self.grid.row_count} of {self.total} message(s), requeued: "
                "RabbitMQ has no true peek, so they may change order and a live consumer competes for them)[/]")

    def drill(self, key: str) -> None:
        from spotctl.tui.components.detail import DetailScreen

        m = self.messages.get(key)
        if m is not None:
            self.app.push_screen(DetailScreen(self.sources, f"message {key} of {self.queue}", {
                "routing key": m["routing_key"], "exchange": m["exchange"] or "(default)",
                "redelivered": m["redelivered"], "died": m["death"], "properties": m["properties"],
                "headers": m["headers"], "body": m["body"]}))
