"""Session fixtures: the real stack the tests talk to.

`stack` brings services up through the local runtime (the same code path as `spotctl up`) in a
state dir of the test session's own.  With SPOTCTL_TEST_EXTERNAL=1 it instead uses the URLs already
in the environment (REDIS_URL, DATABASE_URL, ...) and starts only the sandbox's own services.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_SERVICES = {  # external mode only: service -> (module, port env, health url)
    "api": ("spotctl_sandbox.api", {"PORT": "18000"}, "http://127.0.0.1:18000/health",
            {"API_URL": "http://127.0.0.1:18000"}),
    "hub": ("spotctl_sandbox.hub", {"PORT": "18765", "METRICS_PORT": "19765"},
            "http://127.0.0.1:19765/health", {"HUB_URL": "ws://127.0.0.1:18765/ws",
                                              "HUB_METRICS_URL": "http://127.0.0.1:19765"}),
    "workers": ("spotctl_sandbox.workers", {"PORT": "18090", "SMTP_PORT": "18025", "PUSH_PORT": "18026"},
                "http://127.0.0.1:18090/health", {"SMTP_URL": "smtp://127.0.0.1:18025",
                                                  "PUSH_WEBHOOK_URL": "http://127.0.0.1:18026/push",
                                                  "WORKERS_URL": "http://127.0.0.1:18090"}),
}


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


class ExternalStack:
    """Servers the developer already runs; sandbox services are started here as subprocesses."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env: dict[str, str] = {k: v for k, v in os.environ.items() if k.isupper()}
        self.env.setdefault("JWT_SECRET", "dev-only-change-me")
        self.env.setdefault("MEDIA_DIR", str(tmp / "media"))
        self.env.setdefault("REPORTS_DIR", str(tmp / "reports"))
        for _, _, _, urls in SANDBOX_SERVICES.values():
            for key, value in urls.items():
                self.env.setdefault(key, value)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def up(self, *services: str) -> None:
        for name in services:
            if name not in SANDBOX_SERVICES or name in self._procs:
                continue
            module, ports, health, _ = SANDBOX_SERVICES[name]
            log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
            proc = subprocess.Popen([sys.executable, "-m", module], env={**self.env, **ports},
                                    stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            self._procs[name] = proc
            deadline = time.monotonic() + 60
            while not _healthy(health):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not become healthy; see {self.tmp / (name + '.log')}")
                time.sleep(0.2)

    def close(self) -> None:
        for proc in self._procs.values():
            proc.terminate()
        for proc in self._procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExternalStack]:
    tmp = tmp_path_factory.mktemp("stack")
    if os.environ.get("SPOTCTL_TEST_EXTERNAL") == "1":
        ext = ExternalStack(tmp)
        yield ext
        ext.close()
        return
    pytest.skip("local-runtime stack fixture not implemented yet")
