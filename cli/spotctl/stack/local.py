"""The local runtime: the compose file's services as native processes on this machine.

`up` walks the dependency graph like Compose: a service starts once the services it depends on
answer their (derived) health checks (`service_healthy`) or have been started (`service_started`),
so independent ones start together.
A running service is attached to, never started twice; a port held by another process is an error
that names the port and its owner, unless that process is a server of this stack orphaned by an
earlier run (found by the environment marker every process we start carries): that one is stopped.
Processes are started by the stack's supervisor (`supervisor.py`), which applies the compose
file's `restart:` policy when one exits; `up` asks it through spec files (`control.py`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spotctl.errors import SpotctlError
from spotctl.project import Project
from spotctl.stack import compose, drivers, plan, probes
from spotctl.stack.control import Control, Spec
from spotctl.stack.local_status import Found, Meta, describe, settling
from spotctl.stack.processes import (
    ProcessRecord,
    family,
    find_orphans,
    port_in_use,
    port_owner,
    stop,
    stop_processes,
)
from spotctl.stack.runtime import ProgressFn, ServiceStatus, State
from spotctl.stack.usage import Sampler, Usage

MIN_START_BUDGET_S = 30.0
#: how long `up` lets a sandbox service that came up before a store (RabbitMQ boots last) reconnect:
#: the workers' longest backoff between attempts (spotctl_sandbox.workers.retrying)
SETTLE_S = 10.0


class LocalRuntime:
    name = "local"

    def __init__(self, project: Project) -> None:
        self.project = project
        self.compose = compose.load(project.compose_file)
        self.control = Control(project.run_dir)
        self.registry = self.control.registry
        self.stack_id = str(project.state_dir.resolve())
        self._up_started = 0.0
        self._sampler = Sampler()  # CPU % is since this runtime's previous look (the TUI's refresh)

    # -- state -----------------------------------------------------------------------------------

    def _meta_path(self, service: str) -> Path:
        return self.project.run_dir / f"{service}.meta.json"

    def _meta(self, service: str) -> Meta | None:
        try:
            return Meta(**json.loads(self._meta_path(service).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def _set_meta(self, service: str, meta: Meta) -> None:
        self.project.run_dir.mkdir(parents=True, exist_ok=True)
        self._meta_path(service).write_text(json.dumps(meta.__dict__), encoding="utf-8")

    def has_running(self) -> bool:
        return any(self.registry.running(name) for name in self.compose.services)

    def _context(self, name: str) -> drivers.Context:
        service = self.compose.services[name]
        return drivers.Context(service=service, compose=self.compose, project=self.project,
                               env=self._service_env(service))

    def _service_env(self, service: compose.Service) -> dict[str, str]:
        """The compose environment rewritten for the host, with external brokers from the caller's env."""
        env = plan.service_env(service, self.compose, self.project)
        for key in plan.client_keys(self.compose):
            if key in env and os.environ.get(key):
                env[key] = os.environ[key]
        for name, other in self.compose.services.items():
            if other.optional and self.registry.running(name) is None:  # absent: the service's fallback
                for key, raw in service.environment.items():
                    if key in env and not os.environ.get(key) and _names_service(raw, name):
                        env.pop(key)  # e.g. MONGO_URL -> playlists in PostgreSQL, ELASTICSEARCH_URL -> events
        return env

    # -- health ----------------------------------------------------------------------------------

    def _probe(self, name: str) -> probes.Probe | None:
        probe = probes.derive(self.compose.services[name])
        meta = self._meta(name)
        if probe and meta and meta.kind == "external" and meta.url:
            from urllib.parse import urlsplit

            parts = urlsplit(meta.url if "//" in meta.url else f"tcp://{meta.url.split(',')[0]}")
            probe = probes.Probe(probe.kind, parts.port or probe.port, parts.hostname or probe.host,
                                 probe.path, probe.tls)
        return probe

    def _budget(self, name: str) -> float:
        hc = self.compose.services[name].healthcheck
        if hc is None:
            return MIN_START_BUDGET_S
        return max(MIN_START_BUDGET_S, hc.start_period_s + hc.interval_s * hc.retries)

    def _check(self, name: str) -> tuple[bool, str]:
        probe = self._probe(name)
        if probe is None:
            return True, "no health check"
        return probes.check(probe)

    # -- commands --------------------------------------------------------------------------------

    def up(self, services: Sequence[str], profiles: Sequence[str], progress: ProgressFn) -> list[ServiceStatus]:
        from spotctl.stack import certs

        order = self.compose.select(list(services), list(profiles))
        certs.ensure(self.project.certs_dir)
        self._up_started = time.time()
        pending = list(order)
        waiting: dict[str, tuple[float, Callable[[], None] | None]] = {}
        done: set[str] = set()  # healthy, absent or external-and-healthy
        while pending or waiting:
            for name in list(pending):
                service = self.compose.services[name]
                if all(d in done or (d in waiting and d in service.started_is_enough)
                       for d in service.depends_on if d in order):
                    pending.remove(name)
                    started = self._start(name, progress)
                    if started == "absent":
                        done.add(name)
                    else:
                        hook = started.after_healthy if isinstance(started, drivers.Launch) else None
                        waiting[name] = (time.monotonic(), hook)
            for name, (since, hook) in list(waiting.items()):
                healthy, detail = self._check(name)
                if healthy:
                    if hook:
                        hook()
                    del waiting[name]
                    done.add(name)
                    progress(name, State.healthy, detail)
                    continue
                self._fail_if_dead_or_late(name, since, detail)
            if waiting:
                time.sleep(0.1)
        return self._settled(order, progress)

    def _settled(self, order: Sequence[str], progress: ProgressFn) -> list[ServiceStatus]:
        """The statuses once no service is `degraded` by a store that is up, or after SETTLE_S: right after
        a cold start the workers are still retrying a broker that answered after they started, and `up`
        should not end on a state that is gone a second later. A service degraded by a store that is not
        running (or by its own stalled worker) is reported at once."""
        deadline, told = time.monotonic() + SETTLE_S, set()
        services = self.compose.services
        while True:
            statuses = self.status(order)
            degraded = [s for s in statuses if s.state is State.degraded]
            others = sorted(set(services) - set(order)) if degraded else []
            healthy = {s.name for s in [*statuses, *self.status(others)] if s.state is State.healthy}
            clearing = [s for s in degraded if settling(s, services, healthy)]
            if not clearing or time.monotonic() >= deadline:
                return statuses
            for s in clearing:
                if s.name not in told:
                    told.add(s.name)
                    progress(s.name, State.starting, f"reconnecting ({s.detail})")
            time.sleep(0.3)

    def _start(self, name: str, progress: ProgressFn) -> str | drivers.Launch | drivers.External:
        """Attach, start, or record absence; returns 'absent', 'attached', an External or the Launch."""
        service = self.compose.services[name]
        running = self.registry.running(name)
        if running:
            self._attach(name, running)
            progress(name, State.starting, "already running: attaching")
            return "attached"
        ctx = self._context(name)
        try:
            launch = drivers.get(service.driver)(ctx)
        except drivers.Absent as absent:
            if not service.optional:
                raise SpotctlError(f"{name}: {absent.reason}", hint=absent.hint) from absent
            self._set_meta(name, Meta(kind="absent", note=absent.reason, hint=absent.hint))
            progress(name, State.absent, absent.reason)
            return "absent"
        if isinstance(launch, drivers.External):
            self._set_meta(name, Meta(kind="external", note=launch.note, url=launch.url))
            progress(name, State.starting, f"external: {launch.url}")
            return launch
        self._check_ports_free(name, progress)
        spec = self._spec(name, launch)
        self.control.ensure_supervisor(self.project.logs_dir / "_supervisor.log")
        with self.control.lock():
            self.control.clear_hold(name)
            self.control.put_spec(spec)
        record = self.control.wait_started(name, spec.nonce)
        self._set_meta(name, Meta(kind="process", note=launch.note))
        progress(name, State.starting, f"pid {record.pid}")
        return launch

    def _spec(self, name: str, launch: drivers.Launch) -> Spec:
        service = self.compose.services[name]
        return Spec(service=name, argv=tuple(launch.argv), env=launch.env, cwd=str(launch.cwd),
                    log=str(self.project.logs_dir / f"{name}.log"), restart=service.restart or "no",
                    user=launch.user,
                    main=launch.main, stack=self.stack_id)

    def _attach(self, name: str, record: ProcessRecord) -> None:
        """A running service: make sure it is supervised, and undo a `chaos` hold (`up` heals)."""
        self.control.ensure_supervisor(self.project.logs_dir / "_supervisor.log")
        with self.control.lock():
            hold = self.control.hold(name)
            if hold is not None:
                self.control.clear_hold(name)
                if hold.kind == "pause":
                    for proc in family(record):
                        proc.resume()
            if self.control.spec(name) is not None:
                return
        try:  # started before supervision existed: describe it so the supervisor can restart it
            launch = drivers.get(self.compose.services[name].driver)(self._context(name))
        except drivers.Absent:
            return
        if isinstance(launch, drivers.Launch):
            with self.control.lock():
                self.control.put_spec(self._spec(name, launch))

    def _check_ports_free(self, name: str, progress: ProgressFn) -> None:
        ports = self.compose.services[name].ports
        if any(port_in_use(m.host) for m in ports):
            known = {p for r in self._live_records() for p in (r.pid, r.group)}
            orphans = find_orphans(self.stack_id, self._homes(), known, [name, ""])
            if orphans:
                progress(name, State.starting, "stopping a server orphaned by an earlier run: pid "
                         + ", ".join(str(p.pid) for p in orphans))
                stop_processes(orphans)
        for mapping in ports:
            if port_in_use(mapping.host):
                owner = port_owner(mapping.host)
                who = f" by {owner}" if owner else " by another process"
                move = f"move it with {mapping.variable}=<free port>" if mapping.variable else "free it"
                raise SpotctlError(f"port {mapping.host} for {name} is already in use{who}",
                                   hint=f"stop that process, or {move} (see `spotctl doctor`)")

    def _homes(self) -> dict[Path, str | None]:
        """Where each store's processes work: its data folder (resolved through links). Only there: a
        shell someone left in the logs folder is not a server of ours."""
        homes: dict[Path, str | None] = {}
        for name, service in self.compose.services.items():
            if service.driver not in ("python", "none"):
                homes[self._context(name).data_dir().resolve()] = name
        return homes

    def _live_records(self) -> list[ProcessRecord]:
        return [r for n in self.compose.services if (r := self.registry.running(n)) is not None]

    def _fail_if_dead_or_late(self, name: str, started: float, detail: str) -> None:
        state, _ = self.control.state(name)
        exited = state.last_exit if state.last_exit and state.last_exit.at >= self._up_started else None
        late = time.monotonic() - started > self._budget(name)
        if not (exited or late):
            return
        log = self.project.logs_dir / f"{name}.log"
        tail = _tail_lines(log, 8)
        reason = (f"exited during start-up ({exited.reason})" if exited
                  else f"not healthy after {self._budget(name):.0f}s ({detail})")
        if exited:  # no restarts behind the user's back for a service that cannot start
            self._withdraw(name)
        raise SpotctlError(f"{name} {reason}" + (f"; last log lines:\n{tail}" if tail else ""),
                           hint=f"see `spotctl logs {name}` ({log})")

    def down(self, services: Sequence[str], volumes: bool, progress: ProgressFn | None = None) -> list[str]:
        names = list(services) or list(self.compose.services)
        if services:
            self.compose.select(list(services))  # unknown names are a usage error
        stopped = []
        for name in reversed([n for n in self.compose.services if n in names]):
            if progress is not None and self.registry.running(name) is not None:
                progress(name, State.starting, "stopping")
            if self._withdraw(name):
                stopped.append(name)
                if progress is not None:
                    progress(name, State.stopped, "stopped")
            self._meta_path(name).unlink(missing_ok=True)
        known = {p for r in self._live_records() for p in (r.pid, r.group)}
        if (supervisor := self.control.supervisor()) is not None:
            known.add(supervisor.pid)
        orphans = find_orphans(self.stack_id, self._homes(), known, None if not services else names)
        if orphans:
            stop_processes(orphans)
            stopped.append(f"orphaned servers of this stack (pid {', '.join(str(p.pid) for p in orphans)})")
        if not self.control.specs():
            supervisor = self.control.supervisor()
            if supervisor is not None:
                stop(supervisor, timeout=5)
            self.registry.remove("_supervisor")
        if volumes:
            self._remove_volumes(names)
        return stopped

    def _withdraw(self, name: str) -> bool:
        """Stop supervising `name` (under the lock, so no restart can follow), then stop it."""
        with self.control.lock():
            self.control.forget(name)
            record = self.registry.running(name)
        if record is not None:
            stop(record, stop_signal=self.compose.services[name].stop_signal)
        self.registry.remove(name)
        return record is not None

    def _remove_volumes(self, names: list[str]) -> None:
        for name in names:
            ctx = self._context(name)
            data = ctx.data_dir()
            if data.is_symlink():  # data kept where a service's own user can reach it
                shutil.rmtree(data.resolve(), ignore_errors=True)
                data.unlink()
            elif data.is_dir():
                shutil.rmtree(data, ignore_errors=True)

    def status(self, services: Sequence[str] = ()) -> list[ServiceStatus]:
        names = list(services) or [n for n in self.compose.services]
        return [self._status(name) for name in names]

    def _status(self, name: str) -> ServiceStatus:
        service = self.compose.services[name]
        record = self.registry.running(name)
        found = Found(name=name, endpoints=tuple(f"127.0.0.1:{p.host}" for p in service.ports),
                      required=not service.optional, meta=self._meta(name), now=time.time(),
                      sup=self.control.state(name)[0], hold=self.control.hold(name),
                      has_spec=self.control.spec(name) is not None, pid=record.pid if record else None,
                      started_at=record.create_time if record else 0.0, budget_s=self._budget(name))
        return describe(found, lambda: self._health(name))

    def _health(self, name: str) -> tuple[bool, str, dict[str, Any] | None]:
        """One probe; a sandbox service's /health body too (what it says about its stores)."""
        probe = self._probe(name)
        if self.compose.services[name].driver == "python" and probe is not None \
                and probe.kind is probes.ProbeKind.http and not probe.tls:
            return probes.check_with_body(probe)
        return (*self._check(name), None)

    def log_files(self, services: Sequence[str]) -> dict[str, str]:
        if services:
            self.compose.select(list(services))
        names = list(services) or list(self.compose.services)
        return {n: str(self.project.logs_dir / f"{n}.log") for n in names
                if (self.project.logs_dir / f"{n}.log").is_file()}

    def logs(self, services: Sequence[str], follow: bool, tail: int) -> None:
        from spotctl.inspect.log_view import readable
        from spotctl.stack.logs import follow_files

        files = self.log_files(services)
        if not files:
            raise SpotctlError("no logs yet", hint="start the stack with `spotctl up`")
        follow_files(files, tail=tail, follow=follow, transform=readable)  # JSON lines as people read them

    def usage(self, services: Sequence[str] = (), interval: float = 0.0) -> dict[str, Usage]:
        roots = {n: r.pid for n in list(services) or self.compose.services if (r := self.registry.running(n))}
        return self._sampler.sample(roots, interval)

    def execute(self, service: str, argv: Sequence[str]) -> int:
        """The command beside the service's process, with the environment and folder it was started with."""
        from spotctl.stack import execute

        self.compose.select([service])
        meta = self._meta(service)
        if meta is not None and meta.kind == "external":
            raise SpotctlError(f"{service} is external ({meta.url}): no process of this runtime to run beside",
                               hint="run the command where that server runs")
        if self.registry.running(service) is None:
            status = self._status(service)
            why = f": {status.detail}" if status.detail not in ("", "not running") else ""
            raise SpotctlError(f"{service} is not running{why}", hint=status.hint or f"spotctl up {service}")
        spec = self.control.spec(service)
        if spec is None:  # started before supervision existed
            raise SpotctlError(f"{service} is not supervised yet", hint=f"`spotctl up {service}` adopts it")
        env = execute.environment(spec.env, self._service_env(self.compose.services[service]), spec.argv[0])
        return execute.run(service, argv, env, Path(spec.cwd))


def _names_service(value: str, service: str) -> bool:
    """Does a compose value (before the host rewrite) point at `service`, e.g. mongodb://mongo:27017?"""
    import re

    return re.search(rf"(?<![\w.-]){re.escape(service)}(:\d+|[/?]|$)", value) is not None


def _tail_lines(path: Path, n: int) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("  " + line for line in lines[-n:])
