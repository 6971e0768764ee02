"""`spotctl hub`: talk to the real-time hub as a user: connect, send, watch, notify, presence, stats.

Built on `spotctl.clients.hub` (the hub's own client underneath). With `--user` a token is signed with
JWT_SECRET and its session opened in Redis, as the API's login would, and revoked at exit.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spotctl.clients import hub
from spotctl.output import OutputFormat, OutputOpt, emit, info, warn

if TYPE_CHECKING:
    from spotctl.endpoints import Endpoints
    from spotctl.inspect.hub_view import Target
    from spotctl_sandbox.realtime.client import HubClient

UrlOpt = Annotated[str | None, typer.Option("--url", help="Hub WebSocket URL (default: $HUB_URL, then the "
                                           "stack).", show_default=False)]
UserOpt = Annotated[str, typer.Option("--user", "-u", help="Act as this user id (a token is minted with "
                                      "JWT_SECRET).")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Use this access token instead of minting one.",
                                             show_default=False)]
NsOpt = Annotated[str, typer.Option("--ns", help="Namespace (tenant).")]
TargetArg = Annotated[str, typer.Argument(metavar="CHANNEL", help="A room (lobby, room:lobby) or a chat "
                                          "channel by name ('#general', made if new) or id (chat:12).")]
TopicArg = Annotated[str, typer.Argument(metavar="TOPIC", help="A room (lobby), a chat channel ('#general', "
                                         "chat:12), a listening session (ls:ID) or a playlist (pl:ID).")]

app = typer.Typer(help="Talk to the real-time hub: connect, send, watch, notify, presence, stats.",
                  no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="hub",
                   help="Use the real-time hub as a user (connect, send, watch, notify, topics, stats).")


def endpoints(url: str | None) -> Endpoints:
    from spotctl.endpoints import resolve

    return resolve({"HUB_URL": url})


def _print_frame(frame: dict[str, Any], output: OutputFormat) -> None:
    from spotctl.inspect.hub_view import frame_line

    print(json.dumps(frame, ensure_ascii=False) if output is OutputFormat.json else frame_line(frame), flush=True)


@app.command("send")
def send_cmd(target: TargetArg, text: str, user: UserOpt = "spotctl", token: TokenOpt = None,
             ns: NsOpt = "default", priority: Annotated[str | None, typer.Option(
                 "--priority", help="Rooms: LOW, NORMAL, HIGH or CRITICAL.")] = None,
             url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Join CHANNEL and send TEXT (JSON text is sent as JSON data to rooms)."""
    from spotctl.inspect.hub_view import Target

    where = Target.parse(target)

    async def work() -> dict[str, Any]:
        async with hub.session(endpoints(url), user, token, ns) as client:
            joined, _ = await hub.enter(client, where)
            reply = await client.request(*joined.message(text, priority))
            return {"target": joined.topic, "user": client.user_id, **reply}

    result = hub.run(work())
    emit(result, output, ("target", "message id"), [(result["target"], result.get("message_id"))])


@app.command("watch")
def watch_cmd(target: TopicArg, count: Annotated[int | None, typer.Option("--count", "-c", min=1)] = None,
              timeout: Annotated[float | None, typer.Option("--timeout", min=0.1)] = None,
              user: UserOpt = "spotctl", token: TokenOpt = None, ns: NsOpt = "default",
              url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Follow TOPIC and print its frames as they arrive (JSON: one frame per line)."""
    from spotctl.errors import SpotctlError

    async def work() -> int:
        async with hub.session(endpoints(url), user, token, ns, reconnect=True) as client:
            joined, _ = await hub.follow(client, target)
            topic = joined.topic if joined is not None else target
            info(f"watching {joined.label if joined else target} as {client.user_id} (ctrl-c to stop)")
            seen, deadline = 0, None if timeout is None else time.monotonic() + timeout
            while count is None or seen < count:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                try:
                    frame = await client.recv(timeout=left)
                except TimeoutError:
                    break
                if frame.get("topic") == topic:
                    seen += 1
                    _print_frame(frame, output)
            return seen

    seen = hub.run(work())
    if count is not None and seen < count:
        raise SpotctlError(f"only {seen} of {count} frames arrived within {timeout:g} s")


@app.command("notify")
def notify_cmd(
    user_id: Annotated[str, typer.Argument(metavar="USER", help="Recipient user id.")],
    title: Annotated[str, typer.Option("--title", "-t")] = "Hello from spotctl",
    body: Annotated[str, typer.Option("--body", "-b")] = "A test notification",
    priority: Annotated[str, typer.Option("--priority", "-p", help="LOW, NORMAL, HIGH or CRITICAL.")] = "NORMAL",
    kind: Annotated[str, typer.Option("--kind", help="Template: generic, new_follower, playlist_shared, "
                                      "song_added, listening_invite, daily_report.")] = "generic",
    data: Annotated[str, typer.Option("--data", help="Template data as a JSON object.")] = "{}",
    ns: NsOpt = "default",
    redis_url: Annotated[str | None, typer.Option("--redis-url", show_default=False, help="The hub's Redis "
                                                  "(default: $REDIS_CLUSTER_URL, $REDIS_URL, then the stack).")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Notify USER as the backend does; shows the channels it was routed to (the user's preferences;
    CRITICAL always goes to websocket + push) and its delivery status."""
    from spotctl.endpoints import redis_url as services_redis
    from spotctl.inspect.values import parse_json_object

    payload = parse_json_object(data, "--data")
    result = hub.notify(services_redis(redis_url), user_id, title=title, body=body,
                        priority=priority, kind=kind, data=payload, ns=ns)
    emit(result, output, ("id", "user", "priority", "channels", "status"),
         [(result["id"], user_id, result["priority"], ", ".join(result["channels"]), result["status"])])


@app.command("presence")
def presence_cmd(channel: Annotated[str, typer.Argument(help="A chat channel: chat:12 or 12.")],
                 user: UserOpt = "spotctl", token: TokenOpt = None, ns: NsOpt = "default", url: UrlOpt = None,
                 output: OutputOpt = OutputFormat.table) -> None:
    """Who is online, away or offline in a chat channel (asked as --user, who must be allowed to read it)."""
    from spotctl.errors import UsageError
    from spotctl.inspect.hub_view import Target

    where = Target.parse(channel if channel.startswith("chat:") else f"chat:{channel}")
    if where.channel_id is None:
        raise UsageError("presence is kept for chat channels (chat:<id>); rooms have none")

    async def work() -> list[dict[str, Any]]:
        async with hub.session(endpoints(url), user, token, ns) as client:
            reply = await client.request("channel_presence", {"channel_id": where.channel_id})
            return list(reply["members"])

    members = hub.run(work())
    emit(members, output, ("user", "status", "last read"),
         [(m["user_id"], m["status"], m.get("last_read_id")) for m in members], title=where.topic)


@app.command("topics")
def topics_cmd(ns: NsOpt = "default", output: OutputOpt = OutputFormat.table) -> None:
    """Chat channels with their members, and the rooms, sessions and playlists hub workers follow now."""
    from spotctl.endpoints import resolve

    ep = resolve()
    rows = hub.topics(ep.cluster_or_redis_url, ep.database_url, ns)
    emit(rows, output, ("topic", "kind", "name", "members", "workers subscribed"),
         [(r["topic"], r["kind"], r["name"], "" if r["members"] is None else r["members"],
           "" if r["workers"] is None else r["workers"]) for r in rows], title=f"hub topics in {ns}")


@app.command("stats")
def stats_cmd(interval: Annotated[float, typer.Option("--interval", min=0, help="Seconds between the two "
                                                      "samples used for messages/s (0: totals only).")] = 1.0,
              metrics_url: Annotated[str | None, typer.Option("--metrics-url", show_default=False)] = None,
              output: OutputOpt = OutputFormat.table) -> None:
    """Connections, subscriptions and messages/s per hub worker (from its /health and /metrics)."""
    from spotctl.endpoints import resolve

    result = hub.stats(resolve({"HUB_METRICS_URL": metrics_url}).hub_metrics_url, interval)
    health, rows = result["health"], result["workers"]
    if output is OutputFormat.table:
        info(f"hub {health.get('status')}: {health.get('ready')}/{health.get('workers')} workers ready, "
             f"{health.get('restarts')} restarts, up {health.get('uptime_s')} s")
    delivery = result["delivery"]
    if output is OutputFormat.table and delivery["p50_ms"] is not None:
        info(f"delivery p50 {delivery['p50_ms']} ms, p99 {delivery['p99_ms']} ms "
             f"({'over the interval' if delivery['window'] == 'interval' else 'since the hub started'})")
    emit(result, output, ("worker", "connections", "subscriptions", "in/s", "out/s", "in total", "out total"),
         [(r["worker"], r["connections"], r["subscriptions"], r["in_per_s"], r["out_per_s"], r["messages_in"],
           r["messages_out"]) for r in rows])


@app.command("connect")
def connect_cmd(join: Annotated[str | None, typer.Option("--join", "-j", metavar="CHANNEL",
                                                         help="Join this room/chat first (e.g. '#general').")] = None,
                user: UserOpt = "spotctl", token: TokenOpt = None, ns: NsOpt = "default",
                raw: Annotated[bool, typer.Option("--raw", help="Print every frame as a JSON line instead of "
                                                  "chat lines.")] = False,
                linger: Annotated[float, typer.Option("--linger", min=0, help="After stdin ends, keep "
                                                      "printing frames for S seconds.")] = 1.0,
                url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Chat on the hub: type text to send it to the joined channel, read what arrives as chat lines.

    Commands: /join #general (a chat channel by name; made if new), /join lobby (a room), /join chat:12,
    /leave, /who, /raw TYPE {json}, /quit, /help. Reads stdin, so it also runs in scripts:

        printf '/join #general\\nhello\\n' | spotctl hub connect --user alice
    """
    from spotctl.inspect.hub_view import Target

    first = Target.parse(join) if join is not None else None
    hub.run(_interactive(endpoints(url), user, token, ns, first, linger, raw or output is OutputFormat.json))


class _Chat:
    """One person's session: the joined channel, the names channels were joined by, how to print."""

    def __init__(self, client: HubClient, raw: bool) -> None:
        self.client, self.raw = client, raw
        self.target: Target | None = None
        self.names: dict[int, str] = {}

    def show(self, frame: dict[str, Any]) -> None:
        from spotctl.inspect.hub_view import chat_line

        print(json.dumps(frame, ensure_ascii=False) if self.raw else chat_line(frame, self.names), flush=True)

    async def join(self, target: Target) -> None:
        """Join (by name: find or make), then show the channel's last messages, oldest first."""
        joined, reply = await hub.enter(self.client, target)
        if self.target is not None and self.target != joined:
            await self.client.request(*self.target.leave())
        self.target = joined
        if joined.channel_id is not None:
            channel = reply.get("channel") or {}
            self.names[joined.channel_id] = joined.channel_name or str(channel.get("name") or joined.channel_id)
            history = await self.client.request("history", {"channel_id": joined.channel_id, "limit": 10})
            for message in reversed(history.get("messages", [])):
                self.show({"type": "chat_message", "content": message})
        info(f"joined {self._label()}; type to talk, /help for commands")

    def _label(self) -> str:
        t = self.target
        if t is None:
            return "nothing"
        return f"#{self.names[t.channel_id]}" if t.channel_id in self.names else t.label

    async def who(self) -> None:
        if self.target is None or self.target.channel_id is None:
            warn("/who lists a chat channel's members: /join #general first")
            return
        reply = await self.client.request("channel_presence", {"channel_id": self.target.channel_id})
        info(", ".join(f"{m['user_id']} ({m['status']})" for m in reply.get("members", [])) or "nobody")


async def _interactive(ep: Endpoints, user: str, token: str | None, ns: str, first: Target | None,
                       linger: float, raw: bool) -> None:
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(lines.put_nowait, None)

    async with hub.session(ep, user, token, ns, reconnect=True) as client:
        welcome = client.welcome or {}
        info(f"connected as {client.user_id} to worker {welcome.get('worker')}; /help for commands")
        chat = _Chat(client, raw)
        if first is not None:
            await chat.join(first)
        printer = asyncio.create_task(_print_frames(client, chat))
        threading.Thread(target=read_stdin, daemon=True).start()
        while (line := await lines.get()) is not None:
            if line.strip() and not await _handle(chat, line):
                break
        await asyncio.sleep(linger)
        printer.cancel()


HELP = ("/join #general   a chat channel by name (made if new)   /join lobby   a room   /join chat:12\n"
        "/leave   /who   /raw TYPE {json}   /quit        plain text goes to the joined channel")


async def _handle(chat: _Chat, line: str) -> bool:
    """One input line; False ends the session."""
    from spotctl.errors import UsageError
    from spotctl.inspect.hub_view import Target, parse_command
    from spotctl.inspect.values import parse_json_object
    from spotctl_sandbox.realtime.client import HubError

    word, rest = parse_command(line)
    client, target = chat.client, chat.target
    try:
        if word == "quit":
            return False
        if word == "join":
            await chat.join(Target.parse(rest))
        elif word == "leave" and target is not None:
            await client.request(*target.leave())
            chat.target = None
        elif word == "who":
            await chat.who()
        elif word == "raw":
            kind, _, body = rest.partition(" ")
            await client.send(kind, parse_json_object(body or "{}", "/raw content"))
        elif word == "say" and target is not None:
            await client.request(*target.message(rest))  # the channel's own frame shows it
        elif word == "say":
            warn("join a channel first: /join #general (or /join lobby for a room)")
        else:
            info(HELP)
    except UsageError as exc:
        warn(exc.message)
    except HubError as exc:
        warn(f"the hub refused: {exc}")
    return True


async def _print_frames(client: HubClient, chat: _Chat) -> None:
    from spotctl_sandbox.realtime.client import HubError

    while True:
        try:
            frame = await client.recv()
        except HubError as exc:
            warn(f"connection ended: {exc}")
            return
        chat.show(frame)
