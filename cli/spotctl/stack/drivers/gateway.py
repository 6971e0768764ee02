"""The nginx gateway: the compose template rendered with the gateway's (rewritten) environment.

Docker's nginx image fills `${VAR}` in templates from the service environment; we do the same, with
the listen ports mapped to the published host ports and the certificates from the state dir.
"""

from __future__ import annotations

import os
import re
import sys

from spotctl.stack import certs
from spotctl.stack.drivers import Absent, Context, Launch, which


def render(template: str, env: dict[str, str]) -> str:
    """envsubst limited to defined variables, as the nginx image does ($host etc. stay)."""
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), m.group(0)), template)


def find_binary() -> str:
    binary = which("nginx", extra_dirs=("/usr/sbin",))
    if binary is None:
        raise Absent("nginx is not installed", "apt-get install nginx-light (the gateway is optional locally)")
    return binary


def launch(ctx: Context) -> Launch:
    binary = find_binary()
    base = ctx.data_dir()
    temp = base / "temp"
    temp.mkdir(parents=True, exist_ok=True)
    env = dict(ctx.env)
    env["GATEWAY_HTTP_PORT"] = str(ctx.port(int(env.get("GATEWAY_HTTP_PORT", "80"))))
    env["GATEWAY_HTTPS_PORT"] = str(ctx.port(int(env.get("GATEWAY_HTTPS_PORT", "443"))))
    env["CERTS_DIR"] = str(ctx.project.certs_dir)
    certs.ensure(ctx.project.certs_dir)
    template = ctx.compose.path.parent / str(ctx.service.local.get("template", "nginx/gateway.conf.template"))
    (base / "gateway.conf").write_text(render(template.read_text(encoding="utf-8"), env), encoding="utf-8")
    as_root = sys.platform != "win32" and os.geteuid() == 0
    if as_root:
        temp.chmod(0o777)  # workers drop to nobody and buffer bodies here
    (base / "nginx.conf").write_text(
        ("user nobody nogroup;\n" if as_root else "")
        + f"daemon off;\nworker_processes 1;\npid {base / 'nginx.pid'};\nerror_log stderr info;\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        "  access_log /dev/stdout;\n"
        f"  client_body_temp_path {temp / 'body'};\n  proxy_temp_path {temp / 'proxy'};\n"
        f"  fastcgi_temp_path {temp / 'fastcgi'};\n  uwsgi_temp_path {temp / 'uwsgi'};\n"
        f"  scgi_temp_path {temp / 'scgi'};\n"
        f"  include {base / 'gateway.conf'};\n"
        "}\n", encoding="utf-8")
    argv = [binary, "-p", str(base), "-c", str(base / "nginx.conf"), "-e", "stderr"]
    return Launch(argv=argv, env=ctx.base_env(), cwd=base)
