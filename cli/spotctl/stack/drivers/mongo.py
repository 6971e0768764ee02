"""MongoDB: `mongod` from PATH, or the server MONGO_URL names. Never faked: else it is absent."""

from __future__ import annotations

import os

from spotctl.stack.drivers import Absent, Context, External, Launch, which

HINT = ("put mongod on PATH, set MONGO_URL, or `spotctl up --runtime docker mongo` "
        "(meanwhile playlists use the PostgreSQL JSONB fallback)")


def find_binary() -> str:
    binary = which("mongod", "mongod.exe")
    if binary is None:
        raise Absent("no mongod on PATH and no MONGO_URL", HINT)
    return binary


def launch(ctx: Context) -> Launch | External:
    external = os.environ.get("MONGO_URL")
    if external:
        return External(url=external, note="external server from MONGO_URL")
    binary = find_binary()
    data = ctx.data_dir()
    data.mkdir(parents=True, exist_ok=True)
    argv = [binary, "--dbpath", str(data), "--port", str(ctx.port(27017)), "--bind_ip", "127.0.0.1"]
    return Launch(argv=argv, env=ctx.base_env(), cwd=data)
