"""`spotctl trace ID`: one request's path through the stack, from every service's log, in time order.

The id is the X-Request-ID the gateway or the API answered with (every response carries it), or a
`correlation_id` seen in `spotctl logs --json`. Reads the local runtime's log files.
"""

from __future__ import annotations

from typing import Annotated

import typer

from spotctl.output import OutputFormat, OutputOpt


def register(app: typer.Typer) -> None:
    app.command("trace")(trace)


def trace(
    correlation_id: Annotated[str, typer.Argument(metavar="ID", help="The request's X-Request-ID / correlation_id.")],
    runtime: Annotated[str | None, typer.Option("--runtime", "-r", help="auto | local | docker.",
                                                envvar="SPOTCTL_RUNTIME", show_default=False)] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Follow one request (X-Request-ID) through every service's log, in time order."""
    import datetime as dt
    from pathlib import Path

    from spotctl import project
    from spotctl.errors import SpotctlError, UsageError
    from spotctl.inspect.log_view import parse
    from spotctl.inspect.log_view import trace as follow
    from spotctl.output import emit
    from spotctl.stack import runtime as runtimes

    rt = runtimes.select(runtime, project.current())
    files = rt.log_files([])
    if not files:
        if rt.name == "docker":
            raise UsageError("trace reads the local runtime's log files",
                             hint=f"under docker: `docker compose -p spotctl logs | grep {correlation_id}`")
        raise SpotctlError("no logs yet", hint="start the stack with `spotctl up`")
    found = []
    for name, path in files.items():
        with Path(path).open(encoding="utf-8", errors="replace") as fh:
            found += [parse(name, raw) for raw in fh if correlation_id in raw]  # cheap filter before parsing
    lines = follow(found, correlation_id)
    if not lines:
        raise SpotctlError(f"no log line carries correlation id {correlation_id}",
                           hint="the id is in every response's X-Request-ID header (gateway and API) "
                                "and in `spotctl logs --json`")
    start = lines[0].started or 0.0

    def clock(ts: float | None) -> str:
        return "" if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%H:%M:%S.%f")[:-3]

    emit({"correlation_id": correlation_id, "lines": [line.as_json() for line in lines]}, output,
         ("BEGAN (UTC)", "+MS", "SERVICE", "LEVEL", "MESSAGE"),
         [(clock(line.started), "" if line.started is None else f"{(line.started - start) * 1000:.0f}",
           line.service, line.level, line.msg) for line in lines],
         title=f"trace {correlation_id}: {len(lines)} lines, {len({line.service for line in lines})} services")
