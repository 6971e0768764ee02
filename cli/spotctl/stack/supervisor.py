"""The stack's supervisor: one small process per state dir, started by `spotctl up`, gone after `down`.

It starts the services `up` asks for (so it is their parent and learns their exit status), and
when one exits on its own it applies the compose file's `restart:` policy with backoff
(`supervision.py` decides; this module does the I/O). Every tick runs under the control lock, so
`down` and `spotctl chaos` (which take the same lock to change specs and holds) never race it.
It exits by itself when no service is left to supervise. Portable (psutil, filelock, Popen);
pausing relies on psutil's suspend/resume (SIGSTOP/SIGCONT, NtSuspendProcess on Windows).

    python -m spotctl.stack.supervisor <state>/run
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
from filelock import Timeout

from spotctl.stack import supervision
from spotctl.stack.control import Control, Hold, Spec
from spotctl.stack.processes import ProcessRecord, family, find_main, kill_remains, spawn

TICK_S = 0.2
IDLE_EXIT_S = 3.0
MAIN_WAIT_S = 15.0  # how long a wrapper may take to start its server before we track the wrapper

log = logging.getLogger("spotctl.supervisor")


class Supervisor:
    def __init__(self, run_dir: Path) -> None:
        self.control = Control(run_dir)
        self.registry = self.control.registry
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.released: list[subprocess.Popen[bytes]] = []  # children `down` took over: reaped when they end
        self.watched: dict[str, ProcessRecord] = {}  # records seen alive: their end is an exit
        self.main_pending: dict[str, float] = {}  # service -> deadline to find its real server
        self.stopping = False

    def run(self) -> None:
        idle_since: float | None = None
        while not self.stopping and self.control.run_dir.is_dir():
            try:
                with self.control.lock():
                    busy = self.tick(time.time())
            except Timeout:
                continue
            if busy:
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE_EXIT_S and not self.released:
                break
            time.sleep(TICK_S)
        log.info("supervisor: nothing left to supervise; exiting")

    def tick(self, now: float) -> bool:
        specs = self.control.specs()
        for name in [n for n in self.children if n not in specs]:  # `down` took it over
            log.info("supervisor: %s is no longer ours to supervise (its spec is gone)", name)
            self.released.append(self.children.pop(name))
            self.watched.pop(name, None)
        for child in self.children.values():
            child.poll()  # reap, so a dead child is not a live zombie
        self.released = [c for c in self.released if c.poll() is None]
        for name, spec in specs.items():
            try:
                self._service(name, spec, now)
            except Exception:  # one service's trouble must not stop the supervision of the others
                log.exception("supervisor: %s", name)
        return bool(specs)

    def _service(self, name: str, spec: Spec, now: float) -> None:
        state, nonce = self.control.state(name)
        hold = self.control.hold(name)
        record = self.registry.get(name)
        if record is not None and record.alive():
            self._alive(name, spec, record, state, hold, now)
            return
        if spec.nonce != nonce:  # `up` asked for it (first start, or after a crash it gave up on)
            self._start(name, spec, replace(state, gave_up="", next_start_at=None, quick_failures=0), now,
                        restart=False)
            return
        if name in self.watched or record is not None:
            state = self._exited(name, spec, record or self.watched[name], state, hold, now)
        if hold is not None and hold.active(now):
            return
        if hold is not None:  # the hold ran out: back to normal
            self.control.clear_hold(name)
            if hold.kind == "stop":
                self._start(name, spec, replace(state, next_start_at=None), now, restart=False)
                return
        if state.next_start_at is not None and now >= state.next_start_at:
            self._start(name, spec, supervision.on_restart(state, now), now, restart=True)

    def _alive(self, name: str, spec: Spec, record: ProcessRecord, state: supervision.Record,
               hold: Hold | None, now: float) -> None:
        if name not in self.watched and name not in self.children:
            log.info("supervisor: adopting %s pid %d (not our child: its exit code will be unknown)", name,
                     record.pid)
        self.watched[name] = record
        if name in self.main_pending:
            self._resolve_main(name, spec, record, now)
        if now - record.create_time > supervision.STABLE_S and state.quick_failures:
            self.control.put_state(name, supervision.on_stable(state), spec.nonce)
        if hold is not None and hold.kind == "pause" and not hold.active(now):
            for proc in family(record):
                try:
                    proc.resume()
                except psutil.Error:
                    pass
            self.control.clear_hold(name)
            log.info("supervisor: %s resumed after its pause", name)
        _, nonce = self.control.state(name)
        if nonce != spec.nonce:  # adopted (a stack started before this supervisor): now ours
            self.control.put_state(name, state, spec.nonce)

    def _resolve_main(self, name: str, spec: Spec, record: ProcessRecord, now: float) -> None:
        main = find_main(record, spec.main)
        if main is not None and main.pid != record.pid:
            self.registry.put(main)
            self.watched[name] = main
            log.info("supervisor: %s runs as %s pid %d (started through pid %d)", name, spec.main, main.pid,
                     record.pid)
        if main is not None or now > self.main_pending[name]:
            self.main_pending.pop(name)

    def _exited(self, name: str, spec: Spec, record: ProcessRecord, state: supervision.Record,
                hold: Hold | None, now: float) -> supervision.Record:
        child = self.children.pop(name, None)
        code = child.poll() if child is not None and child.pid == record.pid else None
        kill_remains(record)
        self.registry.remove(name)
        self.watched.pop(name, None)
        self.main_pending.pop(name, None)
        exit_ = supervision.Exit(at=now, code=code, uptime_s=max(0.0, now - record.create_time),
                                 last_line=_last_line(Path(spec.log)))
        if hold is not None and hold.kind == "stop":
            state = replace(state, last_exit=replace(exit_, last_line="stopped by `spotctl chaos stop`"),
                            next_start_at=None)
        else:
            try:
                policy = supervision.RestartPolicy.parse(spec.restart)
            except ValueError as exc:
                policy = supervision.RestartPolicy(supervision.Mode.no)
                log.warning("supervisor: %s: %s", name, exc)
            state = supervision.on_exit(policy, state, exit_)
            if hold is not None and hold.kind == "kill" and state.next_start_at is not None:
                state = replace(state, next_start_at=max(state.next_start_at, hold.until))
        log.warning("supervisor: %s %s; %s", name, exit_.reason, supervision.summary(state, now))
        self.control.put_state(name, state, spec.nonce)
        return state

    def _start(self, name: str, spec: Spec, state: supervision.Record, now: float, restart: bool) -> None:
        old = self.registry.get(name)
        if old is not None:
            kill_remains(old)
        try:
            record, child = spawn(name, spec.argv, spec.env, Path(spec.log), Path(spec.cwd), spec.user, spec.stack)
        except OSError as exc:
            state = replace(state, gave_up=f"could not start: {exc}", next_start_at=None)
            self.control.put_state(name, state, spec.nonce)
            log.error("supervisor: %s could not start: %s", name, exc)
            return
        self.registry.put(record)
        self.children[name] = child
        self.watched[name] = record
        if spec.main:
            self.main_pending[name] = now + MAIN_WAIT_S
        self.control.put_state(name, state, spec.nonce)
        if restart:
            log.warning("supervisor: restarted %s (pid %d, restart #%d)", name, record.pid, state.restarts)


def _last_line(path: Path) -> str:
    """The log's last line: the reason a crash gives, shown by `ps` next to the exit code."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 2048))
            lines = [ln.strip() for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:160] if lines else ""


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    supervisor = Supervisor(Path(argv[0]))
    if sys.platform != "win32":
        def stop(*_: object) -> None:
            supervisor.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    from filelock import FileLock

    single = FileLock(str(Path(argv[0]) / "supervisor.lock"), timeout=0)
    try:
        with single:
            log.info("supervisor: pid %d watching %s", os.getpid(), argv[0])
            supervisor.run()
    except Timeout:
        log.info("supervisor: another one watches %s", argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
