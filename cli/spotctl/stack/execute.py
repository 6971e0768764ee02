"""`spotctl exec` on the local runtime: a command run beside a service's process, as `docker exec` runs
one inside its container. No shell: the argv is run as given, on POSIX and Windows alike.

It gets the service's environment: the one the supervisor started the service with (its spec) over the
service's compose environment rewritten for the host (what a container's exec sees), with the folder of
the service's own binary first on PATH (`redis-cli` beside `redis-server`, the project's Python for the
sandbox services), and the service's working directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from spotctl.errors import CommandNotFound


def environment(started: Mapping[str, str], compose_env: Mapping[str, str], binary: str) -> dict[str, str]:
    """The command's environment: what the service was started with wins over its compose values."""
    env = {**compose_env, **started}
    if binary and Path(binary).is_absolute():
        path = env.get("PATH", "")
        env["PATH"] = str(Path(binary).parent) + (os.pathsep + path if path else "")
    return env


def run(service: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> int:
    """Run `argv` in the foreground (the terminal's stdin, stdout and stderr); its exit code, 128 + the
    signal's number when a signal ended it, as a shell reports it."""
    program = _find(service, argv[0], env, cwd)
    proc = subprocess.Popen(list(argv), executable=program, env=dict(env), cwd=cwd)
    while True:
        try:
            code = proc.wait()
            break
        except KeyboardInterrupt:  # the command got the Ctrl-C too: its exit code says what it made of it
            continue
    return 128 - code if code < 0 else code


def _find(service: str, name: str, env: Mapping[str, str], cwd: Path) -> str:
    """The program's path: a bare name through the service's PATH (Windows' own search would use ours)."""
    if os.sep in name or (os.altsep and os.altsep in name):
        found = shutil.which(str(cwd / name))
    else:
        found = shutil.which(name, path=env.get("PATH") or os.defpath)
    if found is None:
        raise CommandNotFound(f"{name}: command not found on {service}'s PATH",
                              hint=f"give its full path (PATH there: {env.get('PATH', '')})")
    return found
