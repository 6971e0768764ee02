"""The hub's parent process: start HUB_WORKERS workers on one port, restart crashed ones, serve
/health and /metrics (every worker's series, labelled `worker`), and shut down gracefully on SIGTERM.

Workers are forked after the parent has imported the worker code once, so N workers start in well
under a second even on a busy 2-core box (a fresh interpreter per worker costs ~1 s of CPU each).
Where there is no fork (Windows) each worker is a fresh interpreter (`python -m
spotctl_sandbox.hub.worker`); where the port cannot be shared (no SO_REUSEPORT) one worker serves it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..common.health import BlockingHealth, postgres_round_trip, redis_round_trip
from .boot import load_config, setup_logging
from .config import HubConfig

log = logging.getLogger("spotctl_sandbox.hub.supervisor")


def plan(workers: int, *, can_fork: bool, can_share_port: bool) -> tuple[str, int]:
    """How to start the workers ("fork" or "spawn") and how many the platform lets share the port."""
    return ("fork" if can_fork else "spawn"), (workers if can_share_port else 1)


class Supervisor:
    def __init__(self, cfg: HubConfig) -> None:
        self.cfg = cfg
        self.run_dir = Path(tempfile.mkdtemp(prefix="spotctl-hub-"))
        self.metrics_dir = self.run_dir / "metrics"
        self.metrics_dir.mkdir()
        # prometheus_client picks its multiprocess value class at import: set this before anything imports it
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(self.metrics_dir)
        self.procs: dict[int, int] = {}  # worker index -> pid
        self.spawned: dict[int, subprocess.Popen[bytes]] = {}  # pid -> process, where workers are not forked
        self.method, count = plan(cfg.workers, can_fork=hasattr(os, "fork"),
                                  can_share_port=hasattr(socket, "SO_REUSEPORT"))
        if count != cfg.workers:
            log.warning("this platform cannot share a port between processes: 1 worker instead of %d", cfg.workers)
            self.cfg = cfg = dataclasses.replace(cfg, workers=count)
        self.http: ThreadingHTTPServer | None = None
        self.started = time.time()
        self.restarts = 0
        self.spawned_at: dict[int, float] = {}
        self.fast_failures: dict[int, int] = {}  # consecutive deaths soon after start, per worker
        self.restart_at: dict[int, float] = {}
        self.stopping = threading.Event()
        s = cfg.settings
        self.deps = BlockingHealth(lambda: {"redis": lambda: redis_round_trip(s.cluster_or_redis_url),
                                            "postgres": lambda: postgres_round_trip(s.database_url)})

    def ready_file(self, index: int) -> Path:
        return self.run_dir / f"ready-{index}"

    def spawn(self, index: int) -> None:
        self.ready_file(index).unlink(missing_ok=True)
        sys.stdout.flush()
        if self.method == "spawn":
            env = {**os.environ, "HUB_WORKER_INDEX": str(index), "HUB_READY_FILE": str(self.ready_file(index))}
            proc = subprocess.Popen([sys.executable, "-m", "spotctl_sandbox.hub.worker"], env=env)
            self.spawned[proc.pid] = proc
            self.procs[index] = proc.pid
            self.spawned_at[index] = time.monotonic()
            return
        self.fork(index)

    def fork(self, index: int) -> None:
        from . import worker

        pid = os.fork()
        if pid:
            self.procs[index] = pid
            self.spawned_at[index] = time.monotonic()
            return
        code = 0
        try:  # the child: drop the parent's HTTP socket, become worker `index`
            if self.http is not None:
                self.http.socket.close()
            worker.serve_forever(self.cfg, index, self.ready_file(index))
        except BaseException as exc:
            from redis.exceptions import ConnectionError as RedisDown

            # An unreachable Redis is an operating condition, not a bug: one line, no traceback.
            log.error("worker %d failed: %s", index, exc, exc_info=not isinstance(exc, RedisDown | OSError))
            code = 1
        finally:
            sys.stdout.flush()
            os._exit(code)

    def backoff(self, index: int) -> float:
        """A worker that keeps dying right after start (Redis down, bad config) is restarted ever slower."""
        quick = time.monotonic() - self.spawned_at.get(index, 0) < 10
        self.fast_failures[index] = self.fast_failures.get(index, 0) + 1 if quick else 0
        return min(30.0, 0.5 * 2 ** self.fast_failures[index]) if quick else 0.0

    def alive(self, pid: int) -> bool:
        if pid in self.spawned:
            if self.spawned[pid].poll() is None:
                return True
            del self.spawned[pid]
            return False
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return done == 0

    def health(self) -> tuple[int, dict[str, Any]]:
        """200 once every worker is ready; `status` is "degraded" (naming it) while Redis or PostgreSQL
        does not answer a round trip, whatever the workers say."""
        ready = [i for i, pid in self.procs.items() if pid and self.ready_file(i).exists()]
        ok = len(ready) == self.cfg.workers and not self.stopping.is_set()
        deps = self.deps.report()
        status = "stopping" if self.stopping.is_set() else deps["status"] if deps["degraded"] else \
            "ok" if ok else "starting"
        return (200 if ok else 503), {
            "status": status, "service": "hub", "degraded": deps["degraded"], "workers": self.cfg.workers,
            "ready": len(ready), "pids": {str(i): pid for i, pid in self.procs.items()}, "port": self.cfg.port,
            "restarts": self.restarts, "uptime_s": round(time.time() - self.started, 1),
            "dependencies": deps["dependencies"]}

    def metrics(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(self.metrics_dir))
        return generate_latest(registry)

    def serve_http(self) -> ThreadingHTTPServer:
        sup = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/health":
                    code, payload = sup.health()
                    self._reply(code, "application/json", json.dumps(payload).encode())
                elif path == "/metrics":
                    self._reply(200, "text/plain; version=0.0.4; charset=utf-8", sup.metrics())
                else:
                    self._reply(404, "text/plain", b"try /health or /metrics\n")

            def _reply(self, code: int, ctype: str, data: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer((self.cfg.host, self.cfg.metrics_port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="hub-http", daemon=True).start()
        return server

    def port_taken(self) -> bool:
        """SO_REUSEPORT would let a second hub silently share the port; refuse to start instead."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine, a listener not
            try:
                probe.bind((self.cfg.host, self.cfg.port))
            except OSError:
                return True
        return False

    def run(self) -> int:
        if self.port_taken():
            log.error("port %d is already in use (another hub?): not starting", self.cfg.port)
            return 2
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        for index in range(self.cfg.workers):
            self.spawn(index)
        try:
            self.http = self.serve_http()
        except OSError as exc:
            log.error("cannot serve /health and /metrics on port %d: %s", self.cfg.metrics_port, exc)
            self.stopping.set()
        log.info("hub: %d workers on port %d, metrics on %d", self.cfg.workers, self.cfg.port,
                 self.cfg.metrics_port)
        from prometheus_client.multiprocess import mark_process_dead

        while not self.stopping.wait(0.5):
            for index, pid in list(self.procs.items()):
                if pid and not self.alive(pid):
                    mark_process_dead(pid, str(self.metrics_dir))
                    self.ready_file(index).unlink(missing_ok=True)
                    self.procs[index] = 0
                    self.restart_at[index] = time.monotonic() + self.backoff(index)
                    log.warning("worker %d (pid %d) exited: restarting in %.1f s", index, pid,
                                self.restart_at[index] - time.monotonic())
                elif not pid and time.monotonic() >= self.restart_at.get(index, 0):
                    self.restarts += 1
                    self.spawn(index)
        self.shutdown()
        if self.http is not None:
            self.http.shutdown()
        return 0 if self.http is not None else 2

    def shutdown(self) -> None:
        """Workers tell their clients to reconnect and close them; stragglers are killed."""
        log.info("hub: shutting down %d workers", len(self.procs))
        for pid in self.procs.values():
            if pid in self.spawned:
                self.spawned[pid].terminate()
            elif pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.cfg.shutdown_grace_s + 5
        pending = {pid for pid in self.procs.values() if pid}
        while pending and time.monotonic() < deadline:
            pending = {pid for pid in pending if self.alive(pid)}
            time.sleep(0.05)
        for pid in pending:
            log.warning("worker pid %d did not stop in time: killing it", pid)
            if pid in self.spawned:
                self.spawned[pid].kill()
                self.spawned[pid].wait()
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        log.info("hub: stopped")


def main() -> None:
    setup_logging()
    sys.exit(Supervisor(load_config()).run())
