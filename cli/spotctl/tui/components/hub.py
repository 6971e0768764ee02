"""The real-time hub: its workers (connections, messages in and out per second with sparklines, delivery
p50/p99: `spotctl hub stats`) over its topics (chat channels with members, rooms, sessions and
playlists the workers follow: `spotctl hub topics`). Enter watches a topic live as a user; there `i`
sends to it and `p` shows who is present."""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Input, RichLog, Sparkline, Static

from spotctl.tui import data
from spotctl.tui.components.base import SpotctlScreen, problem
from spotctl.tui.components.table_screen import Row, TableScreen
from spotctl.tui.data import Sources

HISTORY = 60  # samples kept for the sparklines (one per refresh)
WATCHER = "spotctl-tui"  # the user the TUI watches and sends as (a token is minted, as `spotctl hub` does)


class HubScreen(TableScreen):
    COLUMNS = ("topic", "kind", "name", "members", "workers")
    HEADING = "hub topics (Enter watches one)"
    INTERVAL_S = 3.0

    class Stats(Message):
        def __init__(self, stats: dict[str, Any] | None, error: str = "") -> None:
            super().__init__()
            self.stats, self.error = stats, error

    def __init__(self, sources: Sources) -> None:
        super().__init__(sources)
        self.rates_in: deque[float] = deque(maxlen=HISTORY)
        self.rates_out: deque[float] = deque(maxlen=HISTORY)
        self.summary = "hub: reading /health and /metrics…"

    def above(self) -> ComposeResult:
        with Horizontal(id="hub-top"):
            yield DataTable(id="workers", cursor_type="none", show_cursor=False)
            with Vertical(id="hub-charts"):
                yield Static("in/s", id="in-label")
                yield Sparkline([], id="in-chart")
                yield Static("out/s", id="out-label")
                yield Sparkline([], id="out-chart")

    def on_mount(self) -> None:
        self.query_one("#workers", DataTable).add_columns("worker", "conns", "subs", "in/s", "out/s")
        super().on_mount()

    def fetch(self) -> list[Row]:
        return [(t["topic"], t["kind"], t["name"], t["members"], t["workers"]) for t in data.hub_topics(self.sources)]

    def action_refresh(self) -> None:
        super().action_refresh()
        self.read_stats()

    @work(thread=True, exclusive=True, group="stats")
    def read_stats(self) -> None:
        try:
            self.post_message(self.Stats(data.hub_stats(self.sources)))
        except Exception as exc:
            self.post_message(self.Stats(None, problem(exc)))

    @on(Stats)
    def show_stats(self, message: Stats) -> None:
        if message.stats is None:
            self.summary = f"[bold red]hub: {escape(message.error)}[/]"
            self.show_status()
            return
        s = message.stats
        health, delivery, total = s["health"], s["delivery"], s["total"]
        table = self.query_one("#workers", DataTable)
        table.clear()
        for w in s["workers"]:
            table.add_row(Text(str(w["worker"])), str(w["connections"]), str(w["subscriptions"]),
                          f"{w['in_per_s'] or 0:g}", f"{w['out_per_s'] or 0:g}")
        self.rates_in.append(float(total["in_per_s"] or 0))
        self.rates_out.append(float(total["out_per_s"] or 0))
        self.query_one("#in-chart", Sparkline).data = list(self.rates_in)
        self.query_one("#out-chart", Sparkline).data = list(self.rates_out)
        self.query_one("#in-label", Static).update(f"in {total['in_per_s'] or 0:g}/s")
        self.query_one("#out-label", Static).update(f"out {total['out_per_s'] or 0:g}/s")
        p50, p99 = delivery["p50_ms"], delivery["p99_ms"]
        window = "last second" if delivery["window"] == "interval" else "since start"
        latency = "no deliveries yet" if p50 is None else f"delivery p50 {p50:g} ms, p99 {p99:g} ms ({window})"
        self.summary = (f"hub {escape(str(health.get('status')))}: {health.get('ready')}/{health.get('workers')} "
                        f"workers, {total['connections']} connections, {latency}")
        self.show_status()

    def status_text(self) -> str:
        return f"{self.summary}\n{super().status_text()}"

    def drill(self, key: str) -> None:
        self.app.push_screen(WatchScreen(self.sources, key))


class WatchScreen(SpotctlScreen):
    """One topic live, as user `spotctl-tui`: frames as chat lines; `i` sends, `p` lists presence."""

    BINDINGS = [*SpotctlScreen.BINDINGS, Binding("i", "compose", "Send"), Binding("p", "presence", "Presence")]
    WRITES = frozenset({"compose"})

    class Frame(Message):
        def __init__(self, frame: dict[str, Any]) -> None:
            super().__init__()
            self.frame = frame

    class Joined(Message):
        def __init__(self, label: str, error: str = "") -> None:
            super().__init__()
            self.label, self.error = label, error

    def __init__(self, sources: Sources, topic: str) -> None:
        super().__init__(sources)
        self.topic = topic
        self.HEADING = f"watching {topic} as {WATCHER}"
        self.peer: Any = None
        self.target: Any = None
        self.names: dict[int, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(escape(self.HEADING), id="status", classes="status")
        yield RichLog(id="frames", wrap=True, markup=False)
        yield Input(placeholder="message to the topic (enter sends, escape leaves the box)", id="say",
                    classes="hidden")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#frames", RichLog).focus()
        self.follow()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "compose" and self.target is None:
            return False  # sessions and playlists take no text
        if action == "presence" and getattr(self.target, "channel_id", None) is None:
            return False
        return super().check_action(action, parameters)

    @work(exclusive=True, group="watch")
    async def follow(self) -> None:
        import asyncio

        try:
            async with data.hub_watch(self.sources, self.topic, WATCHER, self._arrived) as (peer, target):
                self.peer, self.target = peer, target
                label = target.label if target is not None else self.topic
                if target is not None and target.channel_id is not None:
                    self.names[target.channel_id] = target.channel_name or label
                self.post_message(self.Joined(label))
                await asyncio.Event().wait()  # until the screen goes (the worker is cancelled)
        except Exception as exc:
            self.post_message(self.Joined(self.topic, problem(exc)))
        finally:
            self.peer = None

    def _arrived(self, frame: dict[str, Any]) -> None:
        self.post_message(self.Frame(frame))

    @on(Joined)
    def joined(self, message: Joined) -> None:
        if message.error:
            self.show_status(message.error)
            return
        self.HEADING = f"watching {message.label} as {WATCHER}"
        self.refresh_bindings()
        self.show_status()

    @on(Frame)
    def frame(self, message: Frame) -> None:
        from spotctl.inspect.hub_view import chat_line

        if message.frame.get("type", "").endswith("_result"):
            return
        self.query_one("#frames", RichLog).write(Text(chat_line(message.frame, self.names)))

    def action_compose(self) -> None:
        box = self.query_one("#say", Input)
        box.remove_class("hidden")
        box.focus()

    @on(Input.Submitted, "#say")
    def send(self, event: Input.Submitted) -> None:
        if event.value.strip() and self.peer is not None and self.target is not None:
            self.say_it(event.value)
        event.input.value = ""

    @work(group="send")
    async def say_it(self, text: str) -> None:
        try:
            await self.peer.request(*self.target.message(text))
        except Exception as exc:
            self.say(f"[bold red]{escape(problem(exc))}[/]")

    def action_presence(self) -> None:
        self.presence()

    @work(group="send")
    async def presence(self) -> None:
        log = self.query_one("#frames", RichLog)
        try:
            reply = await self.peer.request("channel_presence", {"channel_id": self.target.channel_id})
        except Exception as exc:
            self.say(f"[bold red]{escape(problem(exc))}[/]")
            return
        members = ", ".join(f"{m['user_id']} ({m['status']})" for m in reply.get("members", []))
        log.write(Text(f"  present: {members or 'nobody'}"))

    def action_back(self) -> None:
        box = self.query_one("#say", Input)
        if box.has_focus:
            box.add_class("hidden")
            self.query_one("#frames", RichLog).focus()
        else:
            super().action_back()
