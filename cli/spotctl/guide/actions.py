"""The I/O edge of a step's action: an HTTP request to the API or the workers, a spotctl command, or
users on the hub (`hub_actions`).

Each answers with plain data (`status`/`body`, `exit_code`/`stdout`/`json`, or `reply`/`replies`) that
`capture:` paths read from, so an action's answer is as inspectable as a check's observation.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
from typing import TYPE_CHECKING, Any

from spotctl.guide import hub_actions
from spotctl.guide.model import Action, CommandAction, HttpRequest, HubAction, Service

if TYPE_CHECKING:
    from spotctl.endpoints import Endpoints
    from spotctl.guide.stores import Stores

COMMAND_TIMEOUT_S = 180


def describe(action: Action) -> str:
    if isinstance(action, HubAction):
        return hub_actions.describe(action)
    if isinstance(action, HttpRequest):
        query = "&".join(f"{k}={v}" for k, v in action.query.items())
        return f"{action.method} {action.path}{'?' + query if query else ''}" + (
            f" → {action.service.value}" if action.service is not Service.api else "")
    return "spotctl " + shlex.join(action.args)


def service_url(endpoints: Endpoints, service: Service) -> str:
    url = {Service.api: endpoints.api_url, Service.workers: endpoints.workers_url,
           Service.analytics: endpoints.analytics_url}[service]
    return url.rstrip("/")


def base_url(stores: Stores, service: Service) -> str:
    return service_url(stores.endpoints, service)


async def send(stores: Stores, request: HttpRequest) -> dict[str, Any]:
    headers = {**request.headers, **({"Authorization": f"Bearer {request.auth}"} if request.auth else {})}
    resp = await stores.http.request(request.method, base_url(stores, request.service) + request.path,
                                     json=request.json, params=dict(request.query) or None, headers=headers)
    kind = resp.headers.get("content-type", "")
    body: Any
    if "json" in kind:
        try:
            body = resp.json()
        except ValueError:
            body = resp.text[:2000]
    elif kind.startswith("text/") or not resp.content:
        body = resp.text[:2000]
    else:  # audio and other bytes: their size says enough
        body = f"<{len(resp.content)} bytes of {kind or 'unknown type'}>"
    return {"status": resp.status_code, "body": body, "headers": dict(resp.headers)}


async def command(action: CommandAction) -> dict[str, Any]:
    """`python -m spotctl ARGS` as its own process: the same command a learner would type."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "spotctl", *action.args, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "160"})
    try:
        out, err = await asyncio.wait_for(proc.communicate(), COMMAND_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return {"exit_code": None, "stdout": "", "stderr": f"timed out after {COMMAND_TIMEOUT_S} s", "json": None}
    stdout = out.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(stdout)
    except ValueError:
        parsed = None
    return {"exit_code": proc.returncode, "stdout": stdout, "stderr": err.decode("utf-8", "replace"),
            "json": parsed}


async def run(stores: Stores, action: Action) -> dict[str, Any]:
    if isinstance(action, HubAction):
        return await hub_actions.run(stores, action)
    if isinstance(action, HttpRequest):
        return await send(stores, action)
    return await command(action)


def summary(action: Action, answer: dict[str, Any]) -> str:
    """The answer in one line, for the step's report."""
    if isinstance(action, HubAction):
        return hub_actions.summary(answer)
    if isinstance(action, HttpRequest):
        body = answer["body"]
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        return f"{answer['status']} {text[:160]}{'…' if len(text) > 160 else ''}"
    if answer["exit_code"] == 0:
        return "exit 0"
    last = (answer["stderr"].strip().splitlines() or ["no output"])[-1]
    return f"exit {answer['exit_code']}: {last[:200]}"


def failure(action: Action, answer: dict[str, Any]) -> str | None:
    """Why the action itself went wrong, or None."""
    if isinstance(action, HubAction):
        return hub_actions.failure(action, answer)
    if isinstance(action, HttpRequest):
        from spotctl.guide.checks.http import KIND

        verdict = KIND.judge({"status": action.status, "expect": dict(action.expect)}, answer)
        return None if verdict.ok else f"{describe(action)} {verdict.detail}"
    return None if answer["exit_code"] == 0 else f"{describe(action)}: {summary(action, answer)}"
