"""Native processes of the local runtime: start detached, remember, find again, stop.

A pid file alone cannot tell our redis from a stranger that reused the pid, so each record keeps
the process's create time too: a record whose (pid, create time) no longer matches is stale.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class ProcessRecord:
    service: str
    pid: int
    create_time: float
    argv: tuple[str, ...]
    log: str

    def alive(self) -> bool:
        try:
            proc = psutil.Process(self.pid)
            return abs(proc.create_time() - self.create_time) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False


class Registry:
    """One JSON record per service under `<state>/run/`."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def _path(self, service: str) -> Path:
        return self.run_dir / f"{service}.json"

    def get(self, service: str) -> ProcessRecord | None:
        try:
            raw = json.loads(self._path(service).read_text(encoding="utf-8"))
            return ProcessRecord(**{**raw, "argv": tuple(raw["argv"])})
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def put(self, record: ProcessRecord) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._path(record.service).write_text(json.dumps(asdict(record)), encoding="utf-8")

    def remove(self, service: str) -> None:
        self._path(service).unlink(missing_ok=True)

    def running(self, service: str) -> ProcessRecord | None:
        """The live record, dropping a stale one on the way."""
        record = self.get(service)
        if record is None:
            return None
        if record.alive():
            return record
        self.remove(service)
        return None


def spawn(service: str, argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path,
          user: str | None = None) -> ProcessRecord:
    """Start a process in its own session/process group, output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, object] = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS
    else:
        kwargs["start_new_session"] = True
        if user:
            kwargs["user"] = user
    with open(log, "ab") as out:
        out.write(f"\n--- spotctl: starting {service}: {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    create_time = psutil.Process(proc.pid).create_time()
    return ProcessRecord(service=service, pid=proc.pid, create_time=create_time, argv=tuple(argv),
                         log=str(log))


def stop(record: ProcessRecord, timeout: float = 20.0) -> None:
    """SIGTERM the process group (graceful), SIGKILL what is left after `timeout`."""
    if not record.alive():
        return
    try:
        root = psutil.Process(record.pid)
        family = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    if sys.platform == "win32":
        for proc in family:
            _quietly(proc.terminate)
    else:
        try:
            os.killpg(record.pid, signal.SIGTERM)
        except OSError:
            _quietly(root.terminate)
    _, survivors = psutil.wait_procs(family, timeout=timeout)
    for proc in survivors:
        _quietly(proc.kill)
    psutil.wait_procs(survivors, timeout=5)


def _quietly(action: object) -> None:
    try:
        action()  # type: ignore[operator]
    except psutil.Error:
        pass


def port_owner(port: int) -> str | None:
    """'pid 123 (redis-server)' for whoever listens on `port`, when the OS lets us see it."""
    try:
        conns = psutil.net_connections(kind="inet")
    except (psutil.AccessDenied, OSError):
        return None
    for conn in conns:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            try:
                return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
            except psutil.Error:
                return f"pid {conn.pid}"
    return None


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def wait_for(predicate: object, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return False
