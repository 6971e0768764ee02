"""Kafka: topics live (`spotctl kafka topics`); Enter tails a topic's newest records without a group;
`g` opens the consumer groups with their lag (`spotctl kafka groups`), where `o` resets a stopped
group's offsets to the earliest or latest (`spotctl kafka reset-offsets`, asked with the count)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding

from spotctl.inspect.values import cell
from spotctl.tui import brokers
from spotctl.tui.components.table_screen import Row, TableScreen
from spotctl.tui.data import Sources


class KafkaScreen(TableScreen):
    BINDINGS = [*TableScreen.BINDINGS, Binding("g", "groups", "Groups")]
    COLUMNS = ("topic", "partitions", "messages", "latest offsets")
    HEADING = "kafka topics"

    def fetch(self) -> list[Row]:
        return [(t["topic"], t["partitions"], t["messages"], " ".join(f"{p['partition']}:{p['latest']}"
                                                                      for p in t["offsets"]))
                for t in brokers.kafka_topics(self.sources)]

    def drill(self, key: str) -> None:
        self.app.push_screen(TopicScreen(self.sources, key))

    def action_groups(self) -> None:
        self.app.push_screen(GroupsScreen(self.sources))


class TopicScreen(TableScreen):
    """`spotctl kafka tail TOPIC -n 20`: read without a consumer group, so nothing is committed."""

    COLUMNS = ("at", "time", "key", "value")
    INTERVAL_S = 0

    def __init__(self, sources: Sources, topic: str) -> None:
        super().__init__(sources)
        self.topic = topic
        self.HEADING = f"newest records of {topic} (no consumer group: nothing committed)"
        self.records: dict[str, dict[str, Any]] = {}

    def fetch(self) -> list[Row]:
        records = brokers.kafka_tail(self.sources, self.topic)
        self.records = {f"p{r['partition']}@{r['offset']}": r for r in records}
        return [(at, r["time"][11:23], r["key"] or "", cell(r["value"], 100)) for at, r in self.records.items()]

    def drill(self, key: str) -> None:
        from spotctl.tui.components.detail import DetailScreen

        r = self.records.get(key)
        if r is not None:
            self.app.push_screen(DetailScreen(self.sources, f"{self.topic} {key}", {
                "partition": r["partition"], "offset": r["offset"], "time": r["time"], "key": r["key"],
                "headers": r["headers"], "value": r["value"]}))


class GroupsScreen(TableScreen):
    BINDINGS = [*TableScreen.BINDINGS, Binding("o", "reset", "Reset offsets")]
    WRITES = frozenset({"reset"})
    COLUMNS = ("group", "state", "members", "partitions", "lag")
    HEADING = "kafka consumer groups (lag = log end - committed offset)"

    def __init__(self, sources: Sources) -> None:
        super().__init__(sources)
        self.groups: dict[str, dict[str, Any]] = {}

    def fetch(self) -> list[Row]:
        self.groups = {g["group"]: g for g in brokers.kafka_groups(self.sources)}
        return [(g["group"], g["state"], "?" if g["members"] is None else len(g["members"]),
                 len(g["partitions"]), g["total_lag"]) for g in self.groups.values()]

    def cells(self, row: Row) -> Sequence[Any]:
        *rest, lag = super().cells(row)
        return (*rest, Text(str(row[-1]), style="bold" if row[-1] else ""))

    def drill(self, key: str) -> None:
        from spotctl.tui.components.detail import DetailScreen

        group = self.groups.get(key)
        if group is not None:
            lags = [{"topic": p["topic"], "partition": p["partition"], "committed": p["committed"],
                     "end": p["end"], "lag": p["lag"]} for p in group["partitions"]]
            self.app.push_screen(DetailScreen(self.sources, f"consumer group {key}", {
                "state": group["state"], "members": group["members"], "total lag": group["total_lag"],
                "partitions": lags}))

    def action_reset(self) -> None:
        from spotctl.inspect.kafka_view import Reset
        from spotctl.tui.components.confirm import ChoiceScreen

        group = self.selected_key()
        if group is None:
            return

        def chosen(value: str | None) -> None:
            if value is None:
                return
            mode = Reset(value)
            self.confirmed(lambda: brokers.kafka_reset_question(self.sources, group, mode),
                           lambda: f"moved {brokers.kafka_reset(self.sources, group, mode)} offset(s) of {group} "
                                   f"to the {mode.value}", self.action_refresh)

        self.app.push_screen(ChoiceScreen(f"Reset the offsets of group {group} to…", [
            (Reset.EARLIEST.value, "the earliest record (replay everything)"),
            (Reset.LATEST.value, "the log end (skip the backlog)")]), chosen)
