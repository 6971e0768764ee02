"""up, down, ps/status, logs, health, config: the stack's lifecycle, from the compose file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from spotctl.commands._complete import Services
from spotctl.output import OutputFormat, OutputOpt

if TYPE_CHECKING:
    from rich.text import Text

    from spotctl.stack.runtime import Runtime, ServiceStatus, State

RuntimeOpt = Annotated[
    str | None,
    typer.Option("--runtime", "-r", help="auto | local | docker (auto: docker if an engine answers).",
                 envvar="SPOTCTL_RUNTIME", show_default=False),
]
ServicesArg = Services

_STYLE = {"healthy": "green", "degraded": "dark_orange", "starting": "yellow", "unhealthy": "red",
          "stopped": "dim", "absent": "magenta", "restarting": "yellow", "paused": "cyan"}


def _runtime(name: str | None) -> Runtime:
    from spotctl import project
    from spotctl.stack import runtime

    return runtime.select(name, project.current())


def _state_cell(state: State) -> Text:
    from spotctl.output import styled

    return styled(state.value, _STYLE[state.value])


def _print_statuses(statuses: list[ServiceStatus], fmt: OutputFormat, runtime_name: str) -> None:
    from spotctl.output import emit

    data = {"runtime": runtime_name, "services": {s.name: s.as_json() for s in statuses}}
    rows = [(s.name, _state_cell(s.state), "\n".join(s.endpoints), s.pid or "",
             "" if s.restarts is None else str(s.restarts) + (" LOOP" if s.crash_loop else ""),
             "; ".join(x for x in (s.note, s.hint if s.state.value in ("absent", "stopped", "paused") else "",
                                   s.detail if s.state.value in ("restarting", "paused") else "",
                                   f"last exit: {s.last_exit}" if s.last_exit else "",
                                   *(f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                                     for k, v in s.extra.items())) if x))
            for s in statuses]
    emit(data, fmt, ["SERVICE", "STATE", "ENDPOINTS", "PID", "RESTARTS", "NOTES"], rows,
         title=f"runtime: {runtime_name}")


def up(
    services: ServicesArg = None,
    profile: Annotated[list[str] | None, typer.Option("--profile", "-p",
                                                      help="Compose profiles (default: core).")] = None,
    runtime: RuntimeOpt = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Start services (idempotent), wait until healthy, print endpoints."""
    import time

    from spotctl.commands._progress import UpProgress

    rt = _runtime(runtime)
    started = time.monotonic()
    with UpProgress() as progress:
        statuses = rt.up(services or [], profile or [], progress.update)
    _print_statuses(statuses, output, rt.name)
    _fail_if_absent([s for s in statuses if s.name in (services or []) and s.state.value == "absent"])
    from rich.text import Text

    from spotctl.output import info

    info(Text.assemble(("stack up", "green"), f" in {time.monotonic() - started:.1f}s ({rt.name} runtime)"))
    if output is OutputFormat.table:
        _print_links({s.name for s in statuses if s.state.value == "healthy"})


def _fail_if_absent(absent: list[ServiceStatus]) -> None:
    """A service asked for by name that cannot run here is a failure, not "stack up": say how to get it.
    (Absent optional services of a profile are fine: the stack has a fallback, and `ps` says so.)"""
    if absent:
        from spotctl.errors import SpotctlError

        raise SpotctlError("; ".join(f"{s.name} cannot run here: {s.detail}" for s in absent),
                           hint="; ".join(f"{s.name}: {s.hint}" for s in absent if s.hint) or None)


def _print_links(healthy: set[str]) -> None:
    """Where a person goes next: the compose file's `x-links` of the services that came up."""
    from spotctl import project
    from spotctl.endpoints import links, resolve
    from spotctl.output import info
    from spotctl.stack import compose

    services = compose.load(project.current().compose_file).services
    for label, url in links(services, resolve().env, healthy):
        info(f"  {label:<26} {url}")


def down(
    services: ServicesArg = None,
    volumes: Annotated[bool, typer.Option("--volumes", "-v", help="Also delete data (asks first).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    runtime: RuntimeOpt = None,
) -> None:
    """Stop services; with --volumes also delete their data."""
    from spotctl.output import confirm, info

    rt = _runtime(runtime)
    if volumes:
        target = ", ".join(services) if services else "all services"
        confirm(f"delete the data of {target}", yes)
    from spotctl.commands._progress import DownProgress

    with DownProgress() as progress:
        stopped = rt.down(services or [], volumes, progress.update)
    info(f"stopped: {', '.join(stopped) or 'nothing was running'}" + ("; data deleted" if volumes else ""))


def ps(services: ServicesArg = None, runtime: RuntimeOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Show each service's state, endpoints and notes."""
    rt = _runtime(runtime)
    _print_statuses(rt.status(services or []), output, rt.name)


def health(services: ServicesArg = None, runtime: RuntimeOpt = None,
           output: OutputOpt = OutputFormat.table) -> None:
    """Check health; exit 1 if any required service is not healthy."""
    from spotctl.output import emit

    rt = _runtime(runtime)
    statuses = rt.status(services or [])
    core = set(rt.compose.select(None, ["core"]))
    emit({s.name: s.as_json() for s in statuses}, output, ["SERVICE", "STATUS", "DETAIL"],
         [(s.name, _state_cell(s.state), s.detail) for s in statuses])
    failing = [s.name for s in statuses
               if s.name in core and s.required and s.state.health != "healthy" and s.state.value != "absent"]
    if failing:
        raise typer.Exit(1)


def logs(
    services: ServicesArg = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    tail: Annotated[int, typer.Option("--tail", "-n", help="Lines of history per service.")] = 100,
    json_: Annotated[bool, typer.Option("--json", help="One JSON object per line (ts, level, service, msg, "
                                                       "correlation_id), services merged in time order.")] = False,
    runtime: RuntimeOpt = None,
) -> None:
    """Print a service's log (all services, prefixed, when none is named)."""
    rt = _runtime(runtime)
    try:
        if json_:
            _json_logs(rt, services or [], follow, tail)
        else:
            rt.logs(services or [], follow, tail)
    except KeyboardInterrupt:
        pass


def _json_logs(rt: Runtime, services: list[str], follow: bool, tail: int) -> None:
    """The local runtime's log files as JSON lines: history merged by time, then new lines as they come."""
    import json
    import sys
    from pathlib import Path

    from spotctl.errors import SpotctlError, UsageError
    from spotctl.inspect.log_view import merged, parse
    from spotctl.stack.logs import follow_files, last_lines

    files = rt.log_files(services)
    if not files:
        if rt.name == "docker":
            raise UsageError("--json reads the local runtime's log files",
                             hint="under docker: `docker compose -p spotctl logs`")
        raise SpotctlError("no logs yet", hint="start the stack with `spotctl up`")
    history = merged({name: last_lines(Path(path), tail) for name, path in files.items()})
    for line in history:
        sys.stdout.write(json.dumps(line.as_json(), ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
    if follow:
        follow_files(files, 0, True, write=lambda name, raw: print(
            json.dumps(parse(name, raw).as_json(), ensure_ascii=False, default=str), flush=True))


def config(output: OutputOpt = OutputFormat.table) -> None:
    """Resolved URLs and ports every spotctl command uses (flags > env > compose file)."""
    from spotctl import project
    from spotctl.endpoints import resolve
    from spotctl.output import emit, styled
    from spotctl_sandbox.common.env import Env

    proj = project.current()
    endpoints = resolve()
    caller = Env()
    dirs = {"project dir": (proj.root, "SPOTCTL_PROJECT_DIR", "found from the working dir"),
            "state dir": (proj.state_dir, "SPOTCTL_STATE_DIR", "in the project dir")}
    origins = {**{k: endpoints.origins.get(k, "compose") for k in endpoints.keys},
               **{label: f"env {var}" if caller.optional(var) else default
                  for label, (_, var, default) in dirs.items()}}
    if endpoints.redis_in_effect != "REDIS_URL":  # say so: REDIS_URL is then for analytics and the monitor
        origins[endpoints.redis_in_effect] += "; in effect"
    data: dict[str, Any] = {"project_dir": str(proj.root), "state_dir": str(proj.state_dir),
                            "compose_file": str(proj.compose_file),
                            "endpoints": {k: endpoints.env.get(k) or None for k in endpoints.keys},
                            "redis_in_effect": endpoints.redis_in_effect, "from": origins}
    rows = [(k, endpoints.env.get(k) or styled("absent", "dim"), endpoints.services.get(k, ""), origins[k])
            for k in endpoints.keys]
    rows += [(label, str(path), "", origins[label]) for label, (path, _, _) in dirs.items()]
    emit(data, output, ["KEY", "VALUE", "SERVICE", "FROM"], rows)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Stack")(up)
    app.command(rich_help_panel="Stack")(down)
    app.command(rich_help_panel="Stack")(ps)
    app.command("status", rich_help_panel="Stack", help="Alias of ps.")(ps)
    app.command(rich_help_panel="Stack")(logs)
    app.command(rich_help_panel="Stack")(health)
    app.command(rich_help_panel="Stack")(config)
