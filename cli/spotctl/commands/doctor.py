"""`spotctl doctor`: is this machine ready to run the stack? Every failing check says how to fix it."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from enum import StrEnum

import typer

from spotctl.output import OutputFormat, OutputOpt


class Verdict(StrEnum):
    ok = "ok"
    warn = "warn"
    fail = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    verdict: Verdict
    detail: str
    fix: str = ""


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", Verdict.ok, f"{version} ({sys.executable})")  # pip refuses < 3.11


def _docker() -> list[Check]:
    """The docker CLI, its compose plugin and the engine: each named on its own, with its fix."""
    from spotctl.stack import docker, docker_state

    return [Check(name, Verdict(verdict), detail, fix) for name, verdict, detail, fix in
            docker_state.checks(docker.facts())]


def _binaries() -> list[Check]:
    """The binary behind each compose service's local driver; a missing one fails unless it is optional."""
    from spotctl import project
    from spotctl.stack import compose, drivers

    checks = []
    for svc in compose.load(project.current().compose_file).services.values():
        find = drivers.finder(svc.driver)
        if find is None:
            continue
        name = f"{svc.name} ({svc.driver})" if svc.driver != svc.name else svc.name
        try:
            checks.append(Check(name, Verdict.ok, str(find())))
        except drivers.Absent as absent:
            checks.append(Check(name, Verdict.warn if svc.optional else Verdict.fail, absent.reason, absent.hint))
    return checks


def _compose_file() -> Check:
    from spotctl import project
    from spotctl.stack import compose, validate

    path = project.current().compose_file
    problems = validate.schema_errors(path) + validate.design_errors(compose.load(path)) + validate.build_errors(path)
    if not problems:
        return Check("compose file", Verdict.ok, f"{path} follows the Compose Specification")
    return Check("compose file", Verdict.fail, "; ".join(problems[:3]), f"fix {path.name}")


def _ports() -> list[Check]:
    from spotctl import project
    from spotctl.stack import compose
    from spotctl.stack.processes import Registry, port_in_use, port_owner

    proj = project.current()
    stack = compose.load(proj.compose_file)
    registry = Registry(proj.run_dir)
    checks = []
    for svc in stack.services.values():
        for mapping in svc.ports:
            if not port_in_use(mapping.host):
                continue
            if registry.running(svc.name):
                continue  # our own service holds it
            owner = port_owner(mapping.host) or "another process"
            checks.append(Check(f"port {mapping.host}", Verdict.fail, f"{svc.name}'s port is taken by {owner}",
                                f"stop it, or set {mapping.variable or 'its port in compose.yaml'} to a free port"))
    if not checks:
        checks.append(Check("ports", Verdict.ok, "every published port is free or held by this stack"))
    return checks


def _fd_limit() -> Check:
    try:
        import resource
    except ImportError:
        return Check("open files", Verdict.ok, "no per-process limit to check on this platform")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= 20000 or soft == resource.RLIM_INFINITY:
        return Check("open files", Verdict.ok, f"soft {soft}, hard {hard}")
    return Check("open files", Verdict.warn, f"soft {soft}, hard {hard}: load tests need many sockets",
                 "ulimit -n 20000 (spotctl load raises its own soft limit up to the hard one)")


def _disk() -> Check:
    from spotctl import project

    proj = project.current()
    target = proj.state_dir if proj.state_dir.exists() else proj.root
    free_gb = shutil.disk_usage(target).free / 1e9
    if free_gb >= 2:
        return Check("disk", Verdict.ok, f"{free_gb:.0f} GB free at {target}")
    return Check("disk", Verdict.fail, f"{free_gb:.1f} GB free at {target}",
                 "free some space, or set SPOTCTL_STATE_DIR to a larger disk")


def _ephemeral_ports() -> Check:
    from pathlib import Path

    path = Path("/proc/sys/net/ipv4/ip_local_port_range")
    if not path.is_file():
        return Check("ephemeral ports", Verdict.ok, "not Linux: not checked")
    low, high = map(int, path.read_text().split())
    return Check("ephemeral ports", Verdict.ok, f"{low}-{high} ({high - low + 1} per source address)")


def run_checks() -> list[Check]:
    return [_python(), *_docker(), _compose_file(), *_binaries(), *_ports(), _fd_limit(), _disk(), _ephemeral_ports()]


_MARK = {Verdict.ok: ("ok", "green"), Verdict.warn: ("warn", "yellow"), Verdict.fail: ("FAIL", "red")}


def register(app: typer.Typer) -> None:
    @app.command(rich_help_panel="Stack")
    def doctor(output: OutputOpt = OutputFormat.table) -> None:
        """Check this machine: python, docker, binaries, ports, fd limit, disk. Exit 1 on a failure."""
        from spotctl.output import emit, styled

        checks = run_checks()
        emit([c.__dict__ for c in checks], output, ["CHECK", "RESULT", "DETAIL", "HOW TO FIX"],
             [(c.name, styled(*_MARK[c.verdict]), c.detail, c.fix) for c in checks])
        if any(c.verdict is Verdict.fail for c in checks):
            raise typer.Exit(1)
