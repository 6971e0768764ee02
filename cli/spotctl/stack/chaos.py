"""Faults on purpose, for drills and lessons: kill, stop or pause one service of the local stack.

- kill:   SIGKILL the server (the real one: beam.smp for RabbitMQ); the supervisor sees a crash and
          applies the restart policy. `--for S` keeps it down at least S seconds.
- stop:   a graceful stop (SIGTERM); nothing restarts it until `--for S` runs out, `chaos resume`
          or `spotctl up` (Compose's `unless-stopped`: a stop on purpose is not a crash).
- pause:  freeze every process of the service (SIGSTOP; psutil's suspend on Windows): it holds its
          ports and connections but answers nothing, like a stalled host. `--for S` or `resume`.
- resume: end a stop or pause now.

The hold is written under the control lock before the signal, so the supervisor reads the intent
before it sees the effect (`control.py`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import psutil

from spotctl.errors import SpotctlError
from spotctl.stack.control import Hold
from spotctl.stack.local import LocalRuntime
from spotctl.stack.processes import family, stop

ACTIONS = ("kill", "stop", "pause", "resume")


@dataclass(frozen=True)
class Outcome:
    service: str
    action: str
    pids: tuple[int, ...]
    until: float  # inf: until resumed; 0: nothing held

    def as_json(self) -> dict[str, object]:
        return {"service": self.service, "action": self.action, "pids": list(self.pids),
                "until": None if math.isinf(self.until) else (round(self.until, 3) if self.until else 0)}


def run(rt: LocalRuntime, action: str, service: str, for_s: float | None) -> Outcome:
    rt.compose.select([service])  # unknown service: a usage error listing the services
    if action == "resume":
        return _resume(rt, service)
    record = rt.registry.running(service)
    if record is None:
        raise SpotctlError(f"{service} is not running, nothing to {action}",
                           hint=f"start it with `spotctl up {service}`")
    if rt.control.spec(service) is None or rt.control.supervisor() is None:
        raise SpotctlError(f"{service} is not supervised, so nothing would bring it back",
                           hint=f"run `spotctl up {service}` once (it starts the stack's supervisor)")
    until = math.inf if for_s is None else time.time() + for_s
    procs = family(record)
    with rt.control.lock():
        if action == "kill":
            if for_s is not None:
                rt.control.put_hold(service, Hold("kill", until))
            psutil.Process(record.pid).kill()
            return Outcome(service, action, (record.pid,), until if for_s is not None else 0)
        rt.control.put_hold(service, Hold(action, until))
        if action == "pause":
            for proc in procs:
                _quietly_suspend(proc)
            return Outcome(service, action, tuple(p.pid for p in procs), until)
    stop(record)  # outside the lock: a graceful stop may take seconds; the hold already says why
    return Outcome(service, action, (record.pid,), until)


def _resume(rt: LocalRuntime, service: str) -> Outcome:
    """Thaw a paused service now; let the supervisor start a stopped one now (its hold runs out)."""
    with rt.control.lock():
        hold = rt.control.hold(service)
        if hold is None:
            raise SpotctlError(f"{service} is neither stopped nor paused by `spotctl chaos`")
        record = rt.registry.running(service)
        if hold.kind != "pause":
            rt.control.put_hold(service, Hold(hold.kind, time.time()))
            return Outcome(service, "resume", (), 0)
        rt.control.clear_hold(service)
        procs = family(record) if record is not None else []
        for proc in procs:
            try:
                proc.resume()
            except psutil.Error:
                pass
    return Outcome(service, "resume", tuple(p.pid for p in procs), 0)


def _quietly_suspend(proc: psutil.Process) -> None:
    try:
        proc.suspend()
    except psutil.Error:
        pass
