"""`spotctl chaos kill|stop|pause|resume SERVICE [--for S]`: faults on purpose, for drills and lessons.

Services come from the compose file. The local runtime only (it owns the processes); the stack's
supervisor brings a killed service back by its `restart:` policy and ends a `--for` hold.
"""

from __future__ import annotations

from typing import Annotated

import typer

from spotctl.commands._complete import Service
from spotctl.output import OutputFormat, OutputOpt

ServiceArg = Service
ForOpt = Annotated[float | None, typer.Option("--for", min=0.1, help="Seconds to hold it down or frozen "
                                              "(default: until `spotctl chaos resume` or `spotctl up`).",
                                              show_default=False)]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (needed off a terminal).")]

app = typer.Typer(help="Kill, stop or pause a service on purpose (the local supervisor heals it).",
                  no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="chaos", help="Kill, stop or pause a service on purpose (drills; the supervisor heals).")


def _act(action: str, service: str, for_s: float | None, yes: bool, output: OutputFormat) -> None:
    import math
    import time

    from spotctl import project
    from spotctl.errors import UsageError
    from spotctl.output import confirm, emit, info
    from spotctl.stack import chaos
    from spotctl.stack.local import LocalRuntime

    rt = LocalRuntime(project.current())
    rt.compose.select([service])  # an unknown name fails before any question
    if not rt.has_running() and rt.control.supervisor() is None:
        raise UsageError("no local stack is running here", hint="start one with `spotctl up`; "
                         "chaos drives the local runtime's processes (docker: use `docker kill|stop|pause`)")
    if action != "resume":
        confirm(f"{action} {service}" + (f" for {for_s:g}s" if for_s else ""), yes)
    outcome = chaos.run(rt, action, service, for_s)
    until = outcome.until
    when = ("" if not until else " until `spotctl chaos resume` or `spotctl up`" if math.isinf(until)
            else f" for {until - time.time():.0f}s")
    emit(outcome.as_json(), output, ["SERVICE", "ACTION", "PIDS", "HELD"],
         [(service, action, " ".join(map(str, outcome.pids)), when.strip() or "-")])
    if output is OutputFormat.table:
        info({"kill": f"killed {service}; the supervisor restarts it by its restart policy"
                      + (f" (not before{when})" if when else ""),
              "stop": f"stopped {service}{when}", "pause": f"paused {service}{when}",
              "resume": f"resumed {service}"}[action])


@app.command()
def kill(service: ServiceArg, for_: ForOpt = None, yes: YesOpt = False, output: OutputOpt = OutputFormat.table) -> None:
    """SIGKILL the service's server: a crash, which the supervisor heals by its restart policy."""
    _act("kill", service, for_, yes, output)


@app.command()
def stop(service: ServiceArg, for_: ForOpt = None, yes: YesOpt = False, output: OutputOpt = OutputFormat.table) -> None:
    """Stop it gracefully and keep it down (--for S, or until `chaos resume` / `up`)."""
    _act("stop", service, for_, yes, output)


@app.command()
def pause(service: ServiceArg, for_: ForOpt = None, yes: YesOpt = False,
          output: OutputOpt = OutputFormat.table) -> None:
    """Freeze every process of the service (ports stay open, nothing answers): a stalled host."""
    _act("pause", service, for_, yes, output)


@app.command()
def resume(service: ServiceArg, output: OutputOpt = OutputFormat.table) -> None:
    """End a stop or pause now."""
    _act("resume", service, None, True, output)
