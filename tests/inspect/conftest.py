"""Run `spotctl` as a user would: a subprocess, stdin not a terminal, the stack's URLs in its environment.

No `__init__.py` here on purpose: a package named `inspect` would shadow the standard library's.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def lines(self) -> list[Any]:
        """JSON Lines output (streams: subscribe, tail, watch)."""
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    def refused(self) -> bool:
        """A destructive command off a terminal without --yes: usage error (2) naming --yes."""
        return self.code == 2 and "--yes" in self.err

    def down(self, service: str, url: str) -> bool:
        """One line naming the service and URL, the `spotctl up` hint, exit 1, no traceback."""
        return (self.code == 1 and f"{service} is not reachable at {url}" in self.err
                and f"spotctl up {service}" in self.err and "Traceback" not in self.err)


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, input: str = "", timeout: float = 60,
                 env: dict[str, str] | None = None) -> Result:
        proc = subprocess.run([sys.executable, "-m", "spotctl", *args], input=input, capture_output=True,
                              text=True, timeout=timeout, env={**self.env, **(env or {})})
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def tty(self, *args: str, answer: str = "", timeout: float = 60) -> Result:
        """`spotctl ARGS` on a terminal (a pseudo-terminal: it may ask), `answer` typed in; the terminal's
        output (stdout and stderr together) as `out`."""
        import os
        import pty
        import select
        import time

        main, side = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "spotctl", *args], stdin=side, stdout=side, stderr=side,
                                env={**self.env, "TERM": "dumb"}, close_fds=True)
        os.close(side)
        os.write(main, answer.encode())
        chunks, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            try:
                data = os.read(main, 65536) if ready else b""
            except OSError:  # the terminal closed: the command ended
                break
            if ready and not data:
                break
            chunks.append(data)
        os.close(main)
        code = proc.wait(timeout=10)
        return Result(code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n"), "")

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "spotctl", *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)


@pytest.fixture(scope="session")
def cli(stack: Any) -> Cli:
    return Cli({**os.environ, **stack.env, "NO_COLOR": "1", "COLUMNS": "200"})


@pytest.fixture
def uid() -> str:
    """A name part unique to one test, so reruns and other engineers' data never collide."""
    return "insp" + uuid.uuid4().hex[:8]


@pytest.fixture
def closed_port() -> Callable[[], int]:
    """A local port nothing listens on (bound, then released)."""
    def pick() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    return pick
