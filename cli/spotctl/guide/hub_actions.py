"""A step's `hub:` action: users on the real-time hub sending frames, going on- and offline, editing a
collaborative playlist, and the backend notifying them.

Each op answers `{as, op, reply, error}`; the action's answer is `{reply, replies, errors, ops}` with
`reply` the last op's reply content, so `capture: {channel_id: reply.channel.id}` reads like the
protocol document. `describe` and `failure` are pure; `run` does the I/O through `Stores`' actors.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from spotctl.guide.model import HubAction
from spotctl.guide.template import matches

if TYPE_CHECKING:
    from spotctl.guide.stores import Stores

Op = Mapping[str, Any]
Send = Callable[[], Awaitable[Any]]


def _brief(value: Any, limit: int = 70) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_op(op: Op) -> str:
    if "notify" in op:
        return f"backend notifies {op['notify']} ({op.get('priority', 'NORMAL')}): {op.get('title', '')}"
    who = op["as"]
    if op.get("connect"):
        return f"{who} connects"
    if op.get("disconnect"):
        return f"{who} goes offline"
    if "edit" in op:
        edit = op["edit"]
        change = " ".join(x for x in (f"delete {edit['delete']}" if edit.get("delete") else "",
                                      f"insert {_brief(edit['insert'])}" if edit.get("insert") else "") if x)
        return f"{who} edits playlist {edit['playlist_id']}: {change or 'nothing'} at {edit.get('at', 0)}"
    return f"{who} → {op['send']} {_brief(op.get('content', {}))}"


def describe(action: HubAction) -> str:
    text = "; ".join(describe_op(op) for op in action.ops)
    return f"at once: {text}" if action.together else text


async def _prepare(stores: Stores, op: Op) -> Send:
    """Do what must happen first (connect, take offline, edit the local replica); return the send."""
    from spotctl.clients import hub

    if "notify" in op:
        ep = stores.endpoints
        return lambda: hub.notify_async(ep.cluster_or_redis_url, str(op["notify"]), title=str(op.get("title", "")),
                                        body=str(op.get("body", "")), priority=str(op.get("priority", "NORMAL")),
                                        kind=str(op.get("kind", "generic")), data=dict(op.get("data", {})),
                                        ns="default")
    name = str(op["as"])
    if op.get("disconnect"):
        await stores.disconnect(name)
        return _nothing
    peer = await stores.peer(name)
    if op.get("connect"):
        return lambda: _welcome(peer.client.welcome)
    if "edit" in op:
        edit = op["edit"]
        content = peer.edit(str(edit["playlist_id"]), insert=[str(t) for t in edit.get("insert", [])],
                            at=int(edit.get("at", 0)), delete=int(edit.get("delete", 0)))
        return lambda: peer.request("playlist_update", content)
    return lambda: peer.request(str(op["send"]), dict(op.get("content", {})))


async def _nothing() -> None:
    return None


async def _welcome(welcome: Any) -> Any:
    return welcome


async def _outcome(op: Op, send: Send) -> dict[str, Any]:
    from spotctl_sandbox.realtime.client import HubError

    try:
        return {"as": op.get("as") or op.get("notify"), "op": describe_op(op), "reply": await send(), "error": None}
    except HubError as exc:
        return {"as": op.get("as"), "op": describe_op(op), "reply": None,
                "error": {"code": exc.code, "message": exc.message}}
    except TimeoutError:
        return {"as": op.get("as"), "op": describe_op(op), "reply": None,
                "error": {"code": "timeout", "message": "no reply from the hub within 10 s"}}


async def run(stores: Stores, action: HubAction) -> dict[str, Any]:
    """Each op in order (each waits for its reply), or with `together` all prepared first, then sent at
    once: two edits made on replicas that have not seen each other, as two people typing together."""
    results: list[dict[str, Any]] = []
    if action.together:
        sends = [await _prepare(stores, op) for op in action.ops]
        results = list(await asyncio.gather(*(_outcome(op, send) for op, send in zip(action.ops, sends,
                                                                                     strict=True))))
    else:
        for op in action.ops:
            results.append(await _outcome(op, await _prepare(stores, op)))
    return {"reply": results[-1]["reply"], "replies": [r["reply"] for r in results],
            "errors": [r["error"] for r in results], "ops": results}


def summary(answer: Mapping[str, Any]) -> str:
    parts = []
    for result in answer["ops"]:
        error = result["error"]
        parts.append(f"{error['code']}: {error['message']}" if error else _brief(result["reply"], 100)
                     if result["reply"] is not None else "ok")
    return "; ".join(parts)


def failure(action: HubAction, answer: Mapping[str, Any]) -> str | None:
    """Why the action went wrong (an unexpected error, the expected one missing, a reply without the
    expected fields), or None."""
    for op, result in zip(action.ops, answer["ops"], strict=True):
        error, wanted = result["error"], op.get("error")
        if wanted is not None:
            if error is None or error["code"] != wanted:
                got = f"{error['code']}: {error['message']}" if error else f"a reply {_brief(result['reply'])}"
                return f"{describe_op(op)}: expected the hub to answer {wanted}, got {got}"
            continue
        if error is not None:
            return f"{describe_op(op)}: the hub refused: {error['code']}: {error['message']}"
        expect = op.get("expect")
        if expect and not matches(expect, result["reply"]):
            return f"{describe_op(op)}: the reply has no {_brief(expect)}: {_brief(result['reply'], 160)}"
    return None
