"""The hub's parent process: start HUB_WORKERS workers on one port, restart crashed ones, serve
/health and /metrics (every worker's series, labelled `worker`), and shut down gracefully on SIGTERM.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from .config import HubConfig

log = logging.getLogger("spotctl_sandbox.hub.supervisor")


class Supervisor:
    def __init__(self, cfg: HubConfig) -> None:
        self.cfg = cfg
        self.run_dir = Path(tempfile.mkdtemp(prefix="spotctl-hub-"))
        self.metrics_dir = self.run_dir / "metrics"
        self.metrics_dir.mkdir()
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.started = time.time()
        self.restarts = 0
        self.stopping = threading.Event()

    def ready_file(self, index: int) -> Path:
        return self.run_dir / f"ready-{index}"

    def spawn(self, index: int) -> None:
        self.ready_file(index).unlink(missing_ok=True)
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
               "HUB_WORKER_INDEX": str(index), "HUB_READY_FILE": str(self.ready_file(index))}
        self.procs[index] = subprocess.Popen([sys.executable, "-m", "spotctl_sandbox.hub.worker"], env=env)

    def health(self) -> tuple[int, dict[str, Any]]:
        ready = [i for i, p in self.procs.items() if p.poll() is None and self.ready_file(i).exists()]
        ok = len(ready) == self.cfg.workers and not self.stopping.is_set()
        status = "ok" if ok else ("stopping" if self.stopping.is_set() else "starting")
        return (200 if ok else 503), {
            "status": status, "service": "hub", "workers": self.cfg.workers, "ready": len(ready),
            "pids": {str(i): p.pid for i, p in self.procs.items()}, "port": self.cfg.port,
            "restarts": self.restarts, "uptime_s": round(time.time() - self.started, 1)}

    def metrics(self) -> bytes:
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
                    self._reply(200, CONTENT_TYPE_LATEST, sup.metrics())
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

        server = ThreadingHTTPServer(("0.0.0.0", self.cfg.metrics_port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="hub-http", daemon=True).start()
        return server

    def run(self) -> int:
        try:
            http = self.serve_http()
        except OSError as exc:
            log.error("cannot serve /health and /metrics on port %d: %s", self.cfg.metrics_port, exc)
            return 2
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        for index in range(self.cfg.workers):
            self.spawn(index)
        log.info("hub: %d workers on port %d, metrics on %d", self.cfg.workers, self.cfg.port,
                 self.cfg.metrics_port)
        while not self.stopping.wait(0.5):
            for index, proc in list(self.procs.items()):
                if proc.poll() is not None:
                    log.warning("worker %d (pid %d) exited with %s: restarting", index, proc.pid, proc.returncode)
                    multiprocess.mark_process_dead(proc.pid, str(self.metrics_dir))
                    self.restarts += 1
                    self.spawn(index)
        self.shutdown()
        http.shutdown()
        return 0

    def shutdown(self) -> None:
        """Workers tell their clients to reconnect and close them; stragglers are killed."""
        log.info("hub: shutting down %d workers", len(self.procs))
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.cfg.shutdown_grace_s + 5
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        log.info("hub: stopped")


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s hub[%(process)d] %(levelname)s %(message)s")
    sys.exit(Supervisor(HubConfig.from_env()).run())
