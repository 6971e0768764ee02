"""Native processes of the local runtime: start detached, remember, find again, stop.

A pid file alone cannot tell our redis from a stranger that reused the pid, so each record keeps
the process's create time too: a record whose (pid, create time) no longer matches is stale.
`pid` is the server itself (e.g. RabbitMQ's beam.smp), `leader` the process we started (a wrapper
script, when there is one; its process group holds the whole service). Every process we start
carries `SPOTCTL_STACK=<state dir>` and `SPOTCTL_SERVICE=<name>` in its environment, so a server
orphaned by an earlier run (its wrapper killed, its record lost) is still recognised as ours.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Collection, Mapping, Sequence
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
    leader: int = 0  # the pid we started, when `pid` is a server it started (0: same as pid)

    @property
    def group(self) -> int:
        return self.leader or self.pid

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
        """The live record. A stale one stays: the supervisor reads it to notice the exit."""
        record = self.get(service)
        return record if record is not None and record.alive() else None


STACK_ENV = "SPOTCTL_STACK"
SERVICE_ENV = "SPOTCTL_SERVICE"
#: System-wide daemons a service may start and that inherit its environment (RabbitMQ's epmd): shared
#: with other Erlang nodes on the machine, never ours to stop.
SHARED_HELPERS = frozenset({"epmd"})


def spawn(service: str, argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path,
          user: str | None = None, stack: str = "") -> tuple[ProcessRecord, subprocess.Popen[bytes]]:
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
        marked = {**env, STACK_ENV: stack, SERVICE_ENV: service} if stack else dict(env)
        proc = subprocess.Popen(list(argv), env=marked, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    create_time = psutil.Process(proc.pid).create_time()
    record = ProcessRecord(service=service, pid=proc.pid, create_time=create_time, argv=tuple(argv),
                           log=str(log))
    return record, proc


def find_main(record: ProcessRecord, name: str) -> ProcessRecord | None:
    """The server a wrapper started (by process name), as the record to track; None until it runs."""
    try:
        root = psutil.Process(record.group)
        for proc in [root, *root.children(recursive=True)]:
            if proc.name() == name and proc.status() != psutil.STATUS_ZOMBIE:
                return ProcessRecord(service=record.service, pid=proc.pid, create_time=proc.create_time(),
                                     argv=record.argv, log=record.log,
                                     leader=0 if proc.pid == record.group else record.group)
    except psutil.Error:
        return None
    return None


def family(record: ProcessRecord) -> list[psutil.Process]:
    """Every live process of a service: the leader, the server and their descendants."""
    found: dict[int, psutil.Process] = {}
    for pid in {record.pid, record.group}:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                if proc.name() not in SHARED_HELPERS:
                    found[proc.pid] = proc
        except psutil.Error:
            continue
    return list(found.values())


def stop(record: ProcessRecord, timeout: float = 20.0, stop_signal: str = "SIGTERM") -> None:
    """`stop_signal` (compose's; SIGTERM by default) to the server and its process group (graceful),
    SIGKILL what is left after `timeout`. PostgreSQL asks for SIGINT, its fast shutdown: on SIGTERM it
    waits for every client to leave, and was killed after 20 s."""
    procs = family(record)
    if not procs:
        _kill_group(_own_group(record), force=True)
        return
    _terminate(record, procs, getattr(signal, stop_signal, signal.SIGTERM))
    _, survivors = psutil.wait_procs(procs, timeout=timeout)
    for proc in survivors:
        _quietly(proc.kill)
    psutil.wait_procs(survivors, timeout=5)
    _kill_group(_own_group(record), force=True)  # stragglers that left the tree (re-parented to init)


def kill_remains(record: ProcessRecord) -> None:
    """After the server died: SIGKILL what is left of its service (backends, workers, wrapper),
    so a restart does not meet a half-alive predecessor holding a port or shared memory."""
    procs = family(record)
    for proc in procs:
        _quietly(proc.kill)
    _kill_group(_own_group(record), force=True)
    psutil.wait_procs(procs, timeout=5)


def _terminate(record: ProcessRecord, procs: list[psutil.Process], sig: int = signal.SIGTERM) -> None:
    if sys.platform == "win32":
        for proc in procs:
            _quietly(proc.terminate)
        return
    if not _kill_group(record.group, force=False, sig=sig):
        for proc in procs:
            _quietly(lambda proc=proc: proc.send_signal(sig))
    if record.pid != record.group:  # the server itself, wherever it is (it may have left the group)
        try:
            psutil.Process(record.pid).send_signal(sig)
        except psutil.Error:
            pass


def _own_group(record: ProcessRecord) -> int:
    """The record's process group, or 0 when its id now belongs to a newer process: once the leader
    is gone its pid (and so a new session's group id) may be reused, and that group is not ours."""
    try:
        if psutil.Process(record.group).create_time() > record.create_time + 1.0 and record.group == record.pid:
            return 0
        if record.group != record.pid and psutil.Process(record.group).create_time() > record.create_time:
            return 0
    except psutil.Error:
        pass
    return record.group


def _kill_group(pgid: int, force: bool, sig: int = signal.SIGTERM) -> bool:
    """Signal a whole process group (POSIX): SIGKILL when `force`, else `sig`; False where there is
    none (Windows, gone)."""
    if sys.platform == "win32" or pgid <= 1:
        return False
    try:
        os.killpg(pgid, signal.SIGKILL if force else sig)
        return True
    except OSError:
        return False


def find_orphans(stack: str, homes: Mapping[Path, str | None], known: set[int],
                 services: Collection[str] | None = None) -> list[psutil.Process]:
    """Processes of this stack that no record accounts for: servers left behind by an earlier run
    whose record was lost or whose wrapper was killed. A process is ours by its environment marker,
    or, for servers that overwrite their environment with their process title (redis, postgres,
    nginx do), by a working directory inside one of `homes` (folder -> its service, None: any).
    `known` holds the pids of live records; their descendants are theirs, not orphans."""
    found = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid", "name"]):
        pid = proc.info["pid"]
        if pid == me or pid in known or proc.info["name"] in SHARED_HELPERS:
            continue
        service = _owner(proc, stack, homes)
        if service is None or (services is not None and service not in services):
            continue
        try:
            if any(parent.pid in known for parent in proc.parents()):
                continue
        except psutil.Error:
            continue
        found.append(proc)
    return found


def _owner(proc: psutil.Process, stack: str, homes: Mapping[Path, str | None]) -> str | None:
    """The service `proc` belongs to in this stack ('' when ours but unknown which), else None."""
    try:
        env = proc.environ()
        if env.get(STACK_ENV) == stack:
            return env.get(SERVICE_ENV, "")
        cwd = Path(proc.cwd())
    except (psutil.Error, OSError):
        return None
    for home, service in homes.items():
        if cwd == home or home in cwd.parents:
            return service or ""
    return None


def stop_processes(procs: list[psutil.Process], timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`: for orphans, which have no record to stop by."""
    for proc in procs:
        _quietly(proc.terminate)
    _, survivors = psutil.wait_procs(procs, timeout=timeout)
    for proc in survivors:
        _quietly(proc.kill)
    psutil.wait_procs(survivors, timeout=5)


def _quietly(action: object) -> None:
    try:
        action()  # type: ignore[operator]
    except (psutil.Error, OSError):
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
