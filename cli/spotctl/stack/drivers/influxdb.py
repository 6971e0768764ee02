"""InfluxDB 1.x locally: Debian's `influxdb` package (`influxd -config FILE`), ready in ~0.1 s.

The config puts meta, data and WAL in the service's volume folder and the HTTP API on the published
port; the RPC (backup) listener takes an ephemeral loopback port so two stacks never collide on 8088.
Under Docker the official image runs with the same database name (INFLUXDB_DB).
"""

from __future__ import annotations

from spotctl.stack.drivers import Absent, Context, Launch, which

CONFIG = """reporting-disabled = true
bind-address = "127.0.0.1:0"
[meta]
  dir = "{data}/meta"
[data]
  dir = "{data}/data"
  wal-dir = "{data}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
"""


def find_binary() -> str:
    binary = which("influxd", extra_dirs=("/usr/bin", "/usr/sbin"))
    if binary is None:
        raise Absent("influxd is not installed", "apt-get install influxdb (InfluxDB 1.x), or use --runtime docker")
    return binary


def launch(ctx: Context) -> Launch:
    binary = find_binary()
    data = ctx.data_dir()
    data.mkdir(parents=True, exist_ok=True)
    config = data / "influxdb.conf"
    config.write_text(CONFIG.format(data=data.as_posix(), port=ctx.port(8086)), encoding="utf-8")
    return Launch(argv=[binary, "-config", str(config)], env=ctx.base_env(), cwd=data)

