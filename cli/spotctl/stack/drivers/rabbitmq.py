"""RabbitMQ: the system `rabbitmq-server` with its node, data and logs moved into the state dir.

The management and Prometheus plugins (the official image enables both) are enabled through a
plugins file of our own, so nothing outside the state dir changes. The Erlang distribution port is
the AMQP port + 20000, as in RabbitMQ's defaults (a free port when that would land in the ephemeral
range).

The start script normally stays as a `/bin/sh` parent that traps signals and waits for the VM;
killing that parent orphaned a working broker. With RUNNING_UNDER_SYSTEMD it `exec`s `erl`, so the
pid we start *is* the broker (beam.smp), which stops gracefully on SIGTERM by itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from spotctl.stack.drivers import Absent, Context, Launch, which


def _dist_port(amqp: int) -> int:
    """RabbitMQ's default (AMQP + 20000) unless that lands in the ephemeral range, where an outgoing
    connection may hold it: then a port the kernel reports free right now on every address (Erlang
    listens on all of them; a port free on 127.0.0.1 may be held on 127.0.0.6 by a load run)."""
    import socket

    preferred = amqp + 20000
    if preferred < 32768:
        return preferred
    with socket.socket() as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


def find_binary() -> str:
    # Debian's /usr/sbin wrapper insists on su-ing to the rabbitmq user; the script it wraps does not.
    real = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
    binary = str(real) if real.is_file() else which("rabbitmq-server")
    if binary is None:
        raise Absent("rabbitmq-server not found", "apt-get install rabbitmq-server (Debian/Ubuntu)")
    return binary


def launch(ctx: Context) -> Launch:
    binary = find_binary()
    base = ctx.data_dir()
    for sub in ("mnesia", "log", "home"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    amqp, mgmt, metrics = ctx.port(5672), ctx.port(15672), ctx.port(15692)
    user = ctx.env.get("RABBITMQ_DEFAULT_USER", "guest")
    password = ctx.env.get("RABBITMQ_DEFAULT_PASS", "guest")
    (base / "enabled_plugins").write_text("[rabbitmq_management,rabbitmq_prometheus].\n", encoding="utf-8")
    (base / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{amqp}\n"
        f"management.tcp.port = {mgmt}\nmanagement.tcp.ip = 127.0.0.1\n"
        f"prometheus.tcp.port = {metrics}\nprometheus.tcp.ip = 127.0.0.1\n"
        f"default_user = {user}\ndefault_pass = {password}\nloopback_users = none\n"
        "log.console = true\nlog.console.level = info\nlog.file = false\n",
        encoding="utf-8")
    node = "spotctl-" + hashlib.sha1(str(base).encode()).hexdigest()[:8]
    env = {
        **ctx.base_env(),
        "HOME": str(base / "home"),
        "RABBITMQ_NODENAME": f"{node}@localhost",
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        "RABBITMQ_NODE_PORT": str(amqp),
        "RABBITMQ_DIST_PORT": str(_dist_port(amqp)),
        "RUNNING_UNDER_SYSTEMD": "true",  # exec the VM: no shell parent between us and the broker
    }
    return Launch(argv=[binary], env=env, cwd=base, main="beam.smp")
