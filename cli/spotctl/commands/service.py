"""stats and exec: what a running service uses, and a command run where it runs, on either runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from spotctl.commands._complete import Service, Services
from spotctl.commands.stack import RuntimeOpt
from spotctl.output import OutputFormat, OutputOpt

if TYPE_CHECKING:
    from spotctl.stack.runtime import Runtime

CPU_WINDOW_S = 1.0  # CPU % is measured between two looks this far apart (the docker engine's own: ~1 s)

Command = Annotated[list[str] | None, typer.Argument(metavar="CMD", show_default=False,
                                                     help="After `--`: the command and its arguments, run as given "
                                                          "(no shell).")]


def _runtime(name: str | None) -> Runtime:
    from spotctl import project
    from spotctl.stack import runtime

    return runtime.select(name, project.current())


def stats(services: Services = None, runtime: RuntimeOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """CPU % and memory of each running service."""
    from spotctl.errors import SpotctlError
    from spotctl.inspect.values import human_bytes
    from spotctl.output import emit, spinner

    rt = _runtime(runtime)
    names = list(services or [])
    if names:
        rt.compose.select(names)  # an unknown name is a usage error, naming the compose file's services
    with spinner(f"measuring CPU over {CPU_WINDOW_S:.0f} s…"):
        found = rt.usage(names, interval=CPU_WINDOW_S)
    missing = [n for n in names if n not in found]
    if missing or not found:
        raise SpotctlError(f"not running: {', '.join(missing)}" if missing else "the stack is not running",
                           hint=" ".join(["start it with `spotctl up", *missing]) + "`")
    shown = [n for n in rt.compose.services if n in found]
    emit({"runtime": rt.name, "services": {n: found[n].as_json() for n in shown}}, output,
         ["SERVICE", "CPU %", "MEM"],
         [(n, f"{found[n].cpu_percent:.1f}", human_bytes(found[n].rss_bytes)) for n in shown],
         title=f"runtime: {rt.name}")


def exec_(service: Service, command: Command = None, runtime: RuntimeOpt = None) -> None:
    """Run a command where a service runs, with its environment; exit with its code."""
    from spotctl.errors import UsageError

    argv = list(command or [])
    if argv[:1] == ["--"]:  # options end at SERVICE, so click hands the separator on
        argv = argv[1:]
    if not argv:
        raise UsageError("no command to run", hint=f"spotctl exec {service} -- CMD [ARGS...]")
    rt = _runtime(runtime)
    try:
        code = rt.execute(service, argv)
    except KeyboardInterrupt:  # docker: the SDK's wait for the exec's end (locally the command gets the Ctrl-C)
        code = 130
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Stack")(stats)
    # everything after SERVICE is the command's, its options included (as `docker exec` reads it)
    app.command("exec", rich_help_panel="Stack", context_settings={"allow_interspersed_args": False})(exec_)
