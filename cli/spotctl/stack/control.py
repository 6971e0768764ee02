"""What the CLI and the stack's supervisor say to each other: files in `<state>/run/`, under one lock.

- `<service>.spec.json`  written by `up`: how to run the service and its restart policy. Its presence
  means "keep this running"; `down` deletes it (under the lock) before stopping the process, so the
  supervisor never restarts what `down` is stopping. A new `nonce` asks for a fresh start.
- `<service>.hold.json`  written by `spotctl chaos`: stopped or paused on purpose, until a time.
- `<service>.supervision.json`  written by the supervisor: restarts, last exit, crash loop.
- `<service>.json`  the process record (`processes.Registry`), written by whoever spawned it.

Files rather than a socket: they outlive either side, need no port, and work the same on Windows.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from filelock import FileLock

from spotctl.stack import supervision
from spotctl.stack.processes import ProcessRecord, Registry

SUPERVISOR = "_supervisor"  # its record's name in the registry (not a valid compose service name)
LOCK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Spec:
    service: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: str
    log: str
    restart: str = "no"
    user: str | None = None
    main: str = ""  # process name of the real server when argv starts a wrapper
    stack: str = ""
    nonce: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class Hold:
    """A service held by `spotctl chaos`: `stop` keeps it down, `pause` keeps it frozen, `kill`
    delays its restart; each until `until` (inf: until `spotctl chaos resume` or `spotctl up`)."""

    kind: str  # stop | pause | kill
    until: float

    def active(self, now: float) -> bool:
        return now < self.until


class Control:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.registry = Registry(run_dir)

    def lock(self) -> FileLock:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.run_dir / "control.lock"), timeout=LOCK_TIMEOUT_S)

    def _path(self, service: str, kind: str) -> Path:
        return self.run_dir / f"{service}.{kind}.json"

    def _write(self, path: Path, data: object) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    # -- specs --------------------------------------------------------------------------------------

    def put_spec(self, spec: Spec) -> None:
        self._write(self._path(spec.service, "spec"), {**asdict(spec), "argv": list(spec.argv)})

    def spec(self, service: str) -> Spec | None:
        raw = self._read(self._path(service, "spec"))
        if raw is None:
            return None
        try:
            return Spec(**{**raw, "argv": tuple(raw["argv"])})
        except (TypeError, KeyError):
            return None

    def specs(self) -> dict[str, Spec]:
        found = {}
        for path in sorted(self.run_dir.glob("*.spec.json")):
            spec = self.spec(path.name[: -len(".spec.json")])
            if spec is not None:
                found[spec.service] = spec
        return found

    def forget(self, service: str) -> None:
        """`down`: no spec, no hold, no history. Call under the lock, before stopping the process."""
        for kind in ("spec", "hold", "supervision"):
            self._path(service, kind).unlink(missing_ok=True)

    # -- holds ----------------------------------------------------------------------------------------

    def put_hold(self, service: str, hold: Hold) -> None:
        self._write(self._path(service, "hold"), {"kind": hold.kind,
                                                  "until": None if math.isinf(hold.until) else hold.until})

    def hold(self, service: str) -> Hold | None:
        raw = self._read(self._path(service, "hold"))
        if raw is None:
            return None
        until = raw.get("until")
        return Hold(str(raw.get("kind")), math.inf if until is None else float(until))

    def clear_hold(self, service: str) -> None:
        self._path(service, "hold").unlink(missing_ok=True)

    # -- supervision state ----------------------------------------------------------------------------

    def state(self, service: str) -> tuple[supervision.Record, str]:
        """The supervisor's record of a service and the spec nonce it last started."""
        raw = self._read(self._path(service, "supervision")) or {}
        return supervision.from_json(raw), str(raw.get("nonce") or "")

    def put_state(self, service: str, record: supervision.Record, nonce: str) -> None:
        self._write(self._path(service, "supervision"), {**supervision.to_json(record), "nonce": nonce})

    # -- the supervisor process -----------------------------------------------------------------------

    def supervisor(self) -> ProcessRecord | None:
        return self.registry.running(SUPERVISOR)

    def ensure_supervisor(self, log: Path) -> ProcessRecord:
        """Start the stack's supervisor unless one runs; it outlives this CLI process."""
        from spotctl.stack.processes import spawn

        running = self.supervisor()
        if running is not None:
            return running
        self.run_dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "spotctl.stack.supervisor", str(self.run_dir)]
        record, _ = spawn(SUPERVISOR, argv, dict(os.environ), log, self.run_dir)
        self.registry.put(record)
        return record

    def wait_started(self, service: str, nonce: str, timeout: float = 15.0) -> ProcessRecord:
        """Block until the supervisor has started the spec `nonce` (its record is live)."""
        from spotctl.errors import SpotctlError

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state, started = self.state(service)
            if started == nonce:
                record = self.registry.running(service)
                if record is not None:
                    return record
                if state.gave_up:
                    raise SpotctlError(f"{service}: {state.gave_up}")
            if self.supervisor() is None:
                raise SpotctlError(f"{service}: the stack's supervisor is not running",
                                   hint=f"see {self.run_dir.parent / 'logs' / (SUPERVISOR + '.log')}")
            time.sleep(0.05)
        raise SpotctlError(f"{service}: the supervisor did not start it within {timeout:.0f}s",
                           hint=f"see {self.run_dir.parent / 'logs' / (SUPERVISOR + '.log')}")


def fresh(spec: Spec) -> Spec:
    return replace(spec, nonce=uuid.uuid4().hex)
