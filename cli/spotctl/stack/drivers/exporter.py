"""Prometheus exporters (node, Redis, PostgreSQL, ...): the Debian package's binary, run like its image.

The compose service names the binary (`x-local.binary`); its `command` holds the exporter's flags and
its `environment` the target (REDIS_ADDR, DATA_SOURCE_NAME, SCRAPE_URI), which the images and the
Debian binaries read alike. Only the listen address changes: 127.0.0.1 and the published port.
"""

from __future__ import annotations

from spotctl.stack.drivers import Absent, Context, Launch, which


def launch(ctx: Context) -> Launch:
    name = str(ctx.service.local.get("binary", ""))
    binary = which(name) if name else None
    if binary is None:
        raise Absent(f"{name or ctx.service.name} is not installed",
                     f"apt-get install {name}, or use --runtime docker" if name else "use --runtime docker")
    data = ctx.data_dir()
    data.mkdir(parents=True, exist_ok=True)
    port = ctx.service.ports[0]
    argv = [binary, *ctx.service.command, f"--web.listen-address=127.0.0.1:{port.host}"]
    return Launch(argv=argv, env={**ctx.base_env(), **ctx.env}, cwd=data)
