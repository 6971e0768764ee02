"""The sandbox's own services: the compose `command` run with this project's Python."""

from __future__ import annotations

import sys
from pathlib import Path

from spotctl.stack.drivers import Context, Launch


def launch(ctx: Context) -> Launch:
    command = list(ctx.service.command)
    if command and Path(command[0]).name.startswith("python"):
        command[0] = sys.executable
    for key in ("MEDIA_DIR", "REPORTS_DIR"):
        if key in ctx.env:
            Path(ctx.env[key]).mkdir(parents=True, exist_ok=True)
    env = {**ctx.base_env(), **ctx.env, "PYTHONUNBUFFERED": "1"}
    container_ports = {m.container for m in ctx.service.ports}
    for key, value in ctx.env.items():
        if key.endswith("PORT") and value.isdigit() and int(value) in container_ports:
            env[key] = str(ctx.port(int(value)))  # listen where the compose file publishes it
    return Launch(argv=command, env=env, cwd=ctx.project.root)
