"""Session fixtures: the real stack the tests talk to.

`stack` brings services up through the local runtime (the same code path as `spotctl up`) in a
state dir of the test session's own.  With SPOTCTL_TEST_EXTERNAL=1 it instead uses the URLs already
in the environment (REDIS_URL, DATABASE_URL, ...) and starts only the sandbox's own services.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spotctl_sandbox.common.env import Env

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.support.throwaway"]  # `throwaways` and `pg_dir`, for the api's and the hub's tests


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `spotctl ARGS` as a user would: a real process, no terminal, NO_COLOR."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "spotctl", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, input=input if input is not None else "", cwd=ROOT)
COMPOSE_FILE = ROOT / "compose" / "compose.yaml"


def _compose(env: dict[str, str] | None = None) -> Any:
    from spotctl.stack import compose

    return compose.load(COMPOSE_FILE, env=env or {})


# Ports of the test stack: apart from the defaults, so a developer's own `spotctl up` keeps running, and
# apart per checkout (a block chosen by the checkout's path, or SPOTCTL_TEST_PORT_BASE), so two
# checkouts can test at once. Every SPOTCTL_<NAME>_PORT variable of the compose file gets one, in the
# file's order: a service added there is moved into the block without an edit here. The block holds two
# stacks (the session's and the second one tests/reliability and tests/stack run) and 10 spare ports,
# rounded up to tens: 60 for today's 25 ports. Blocks stay within 20000-30000.
PORT_VARIABLES = [m.variable for svc in _compose().services.values() for m in svc.ports if m.variable]
PORT_BLOCK = -(-(2 * len(PORT_VARIABLES) + 10) // 10) * 10
PORT_BASE = Env().integer("SPOTCTL_TEST_PORT_BASE",
                          20000 + int(hashlib.sha1(str(ROOT).encode()).hexdigest()[:8], 16) % (10000 // PORT_BLOCK)
                          * PORT_BLOCK, minimum=1024, maximum=65535 - PORT_BLOCK)
SPARE_PORTS = range(PORT_BASE + PORT_BLOCK - 10, PORT_BASE + PORT_BLOCK)  # for tests that run a second stack
TEST_PORTS = {var.removeprefix("SPOTCTL_").removesuffix("_PORT"): PORT_BASE + i for i, var in enumerate(PORT_VARIABLES)}


@dataclass(frozen=True)
class SandboxService:
    """How external mode starts one of the sandbox's own services: derived from its compose entry."""

    module: str  # python -m MODULE
    ports: dict[str, str]  # its listen-port variables, set to the test block's host ports
    health: str  # the URL its healthcheck fetches, from the host
    urls: dict[str, str]  # the client URLs it answers (API_URL, ...)


def sandbox_services() -> dict[str, SandboxService]:
    """The services built here, on the test block's ports (external mode only)."""
    import re

    from spotctl import project
    from spotctl.stack import plan

    stack = _compose({f"SPOTCTL_{name}_PORT": str(port) for name, port in TEST_PORTS.items()})
    view = plan.client_view(stack, project.Project(root=ROOT, state_dir=ROOT / ".spotctl"))
    found = {}
    for svc in plan.built_here(stack):
        published = {str(m.container): str(m.host) for m in svc.ports}
        ports = {k: published[v] for k, v in svc.environment.items() if k.endswith("PORT") and v in published}
        test = " ".join(svc.healthcheck.test) if svc.healthcheck else ""
        probe = re.search(r"http://localhost:(\d+)(/[\w/]*)", test)
        assert probe, f"{svc.name}: no http healthcheck to wait on"
        health = f"http://127.0.0.1:{published[probe.group(1)]}{probe.group(2)}"
        module = svc.command[svc.command.index("-m") + 1]
        urls = {key: view.env[key] for key, owner in view.services.items() if owner == svc.name}
        found[svc.name] = SandboxService(module, ports, health, urls)
    return found


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
        self.env.setdefault("JWT_SECRET", "dev-only-jwt-secret-change-me-in-production")
        self.env.setdefault("SPOTCTL_ENV", "development")  # services refuse the dev secret otherwise
        self.env.setdefault("MEDIA_DIR", str(tmp / "media"))
        self.env.setdefault("REPORTS_DIR", str(tmp / "reports"))
        self.services = sandbox_services()
        for service in self.services.values():
            for key, value in service.urls.items():
                self.env.setdefault(key, value)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def up(self, *services: str) -> None:
        for name in services:
            if name not in self.services or name in self._procs:
                continue
            service = self.services[name]
            log = open(self.tmp / f"{name}.log", "ab")  # owned by the child process
            proc = subprocess.Popen([sys.executable, "-m", service.module], env={**self.env, **service.ports},
                                    stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            self._procs[name] = proc
            deadline = time.monotonic() + 60
            while not _healthy(service.health):
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




class LocalStack:
    """The local runtime in a state dir of the session's own: `stack.up(...)` is `spotctl up ...`."""

    def __init__(self, state_dir: Path) -> None:
        from spotctl import project
        from spotctl.stack.local import LocalRuntime

        self.state_dir = state_dir
        self.runtime = LocalRuntime(project.current())
        self.env: dict[str, str] = {}
        self._refresh_env()

    def _refresh_env(self) -> None:
        from spotctl.endpoints import resolve

        self.env.clear()
        self.env.update({k: v for k, v in resolve().env.items() if v})

    def up(self, *services: str) -> None:
        self.runtime.up(list(services), [], lambda *_: None)
        self._refresh_env()

    def close(self) -> None:
        self.runtime.down([], volumes=False)


@pytest.fixture(scope="session")
def stack_settings() -> Path:
    """Environment every test process inherits: the test stack's state dir and ports.

    The state dir is stable per checkout, so a session that died leaves nothing it cannot find:
    the next session stops what it left and wipes its data before starting afresh.
    """
    import tempfile

    state = Path(tempfile.gettempdir()) / f"spotctl-test-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]}"
    os.environ["SPOTCTL_STATE_DIR"] = str(state)
    os.environ["SPOTCTL_PROJECT_DIR"] = str(ROOT)
    os.environ["NO_COLOR"] = "1"
    if os.environ.get("SPOTCTL_TEST_EXTERNAL") != "1":
        from spotctl.stack import plan

        for key in plan.client_keys(_compose()):  # the test stack's URLs come from the compose file
            os.environ.pop(key, None)
    for name, port in TEST_PORTS.items():
        os.environ[f"SPOTCTL_{name}_PORT"] = str(port)
    return state


@pytest.fixture(scope="session")
def stack(stack_settings: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack | ExternalStack]:
    if os.environ.get("SPOTCTL_TEST_EXTERNAL") == "1":
        ext = ExternalStack(tmp_path_factory.mktemp("stack"))
        yield ext
        ext.close()
        return
    with _exclusive(stack_settings / "session.lock"):
        from spotctl.stack import plan

        local = LocalStack(stack_settings)
        local.runtime.down([], volumes=True)  # whatever an earlier session left behind
        try:
            local.up(*plan.backing_services(local.runtime.compose))  # the stores; tests start the rest
            yield local
        finally:
            local.close()


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """One test session per checkout at a time: a second one waits instead of wiping the first's stack."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as fh:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here; sessions must not overlap
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def cli(stack_settings: Path) -> object:
    """`cli("ps", "-o", "json")` runs spotctl against the test stack's state dir and ports."""
    return run_cli
