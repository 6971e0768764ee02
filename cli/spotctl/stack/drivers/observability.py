"""Prometheus and Grafana: run locally when their binaries are installed, else absent.

Under Docker both always run (profile `observability`). Prometheus' scrape config is the compose
one, with service host names rewritten for the host like every other value.
"""

from __future__ import annotations

from pathlib import Path

from spotctl.stack.drivers import Absent, Context, Launch, which
from spotctl.stack.plan import rewrite_value


def find_prometheus() -> str:
    binary = which("prometheus")
    if binary is None:
        raise Absent("prometheus is not installed", "apt-get install prometheus, or use --runtime docker")
    return binary


def find_grafana() -> str:
    binary = which("grafana-server", "grafana")
    if binary is None:
        raise Absent("grafana is not installed", "use --runtime docker for Grafana")
    return binary


def prometheus(ctx: Context) -> Launch:
    binary = find_prometheus()
    source = ctx.compose.path.parent / "prometheus" / "prometheus.yml"
    data = ctx.data_dir()
    data.mkdir(parents=True, exist_ok=True)
    config = data / "prometheus.yml"
    config.write_text(rewrite_value(source.read_text(encoding="utf-8"), ctx.compose, ctx.project),
                      encoding="utf-8")
    argv = [binary, f"--config.file={config}", f"--storage.tsdb.path={data / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{ctx.port(9090)}"]
    return Launch(argv=argv, env=ctx.base_env(), cwd=data)


def grafana(ctx: Context) -> Launch:
    binary = find_grafana()
    data = ctx.data_dir()
    data.mkdir(parents=True, exist_ok=True)
    home = Path(binary).resolve().parent.parent / "share" / "grafana"
    argv = [binary, "server", f"--homepath={home}",
            f"cfg:server.http_port={ctx.port(3000)}", f"cfg:paths.data={data}",
            f"cfg:paths.provisioning={ctx.compose.path.parent / 'grafana' / 'provisioning'}"]
    return Launch(argv=argv, env=ctx.base_env(), cwd=data)
