"""A static check for POSIX-only calls: what would raise on Windows, found in the source (an AST walk).

Flagged: POSIX-only modules (fcntl, pwd, grp, resource, termios, ...), os functions Windows lacks
(fork, setsid, killpg, geteuid, ...), signals it lacks (SIGKILL, SIGSTOP, SIGHUP, ...),
`loop.add_signal_handler`, `preexec_fn=`, `reuse_port=True`, psutil's `num_fds`, and programs only
POSIX systems have (`ss`, `sh`, `kill`, ...) as the first item of a literal argv.

A use is fine when it is guarded: inside `if`/`elif`/`else` or a conditional expression whose test
looks at the platform (`sys.platform`, `os.name`, `platform.system()`, `hasattr(...)`), after such a
test in an `and`/`or`, or inside a `try` that catches ImportError, AttributeError or
NotImplementedError (the fallback is right there).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

POSIX_MODULES = {"fcntl", "pwd", "grp", "resource", "termios", "tty", "pty", "posix", "syslog", "crypt", "spwd"}
POSIX_OS = {"fork", "forkpty", "setsid", "setpgid", "setpgrp", "getpgid", "getpgrp", "killpg", "getuid", "geteuid",
            "getgid", "getegid", "setuid", "setgid", "seteuid", "WNOHANG", "wait3", "wait4", "sysconf", "uname",
            "nice", "chown", "lchown", "fchown", "mkfifo", "openpty", "getloadavg", "statvfs", "pipe2",
            "sched_getaffinity", "sched_setaffinity", "getpriority", "setpriority"}
POSIX_SIGNALS = {"SIGKILL", "SIGSTOP", "SIGCONT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGCHLD", "SIGALRM", "SIGQUIT",
                 "SIGPIPE", "SIGTSTP", "SIGTTIN", "SIGTTOU", "alarm", "setitimer", "getitimer", "pthread_kill",
                 "pthread_sigmask", "siginterrupt", "SIGWINCH"}
POSIX_METHODS = {"add_signal_handler", "remove_signal_handler", "num_fds"}
POSIX_PROGRAMS = {"sh", "bash", "ss", "kill", "pkill", "killall", "ps", "lsof", "fuser", "ip", "ulimit", "which"}
GUARD_NAMES = ("sys.platform", "os.name", "platform.system", "hasattr(", "sys.platform.startswith")
GUARD_EXCEPTIONS = {"ImportError", "ModuleNotFoundError", "AttributeError", "NotImplementedError", "Exception"}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _is_platform_test(node: ast.AST) -> bool:
    text = ast.unparse(node)
    return any(name in text for name in GUARD_NAMES)


def _catches_fallback(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = {ast.unparse(t) for t in (handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type])}
    return bool(names & GUARD_EXCEPTIONS) or "Exception" in names


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.guarded = 0
        self.findings: list[Finding] = []

    def flag(self, node: ast.AST, what: str) -> None:
        if not self.guarded:
            self.findings.append(Finding(self.path, getattr(node, "lineno", 0), what))

    def _guarded(self, nodes: list[ast.stmt] | list[ast.expr]) -> None:
        self.guarded += 1
        for node in nodes:
            self.visit(node)
        self.guarded -= 1

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        if _is_platform_test(node.test):
            self._guarded([*node.body, *node.orelse])
        else:
            for child in [*node.body, *node.orelse]:
                self.visit(child)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.visit(node.test)
        if _is_platform_test(node.test):
            self._guarded([node.body, node.orelse])
        else:
            self.visit(node.body)
            self.visit(node.orelse)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        for i, value in enumerate(node.values):
            if any(_is_platform_test(v) for v in node.values[:i]):
                self._guarded([value])
            else:
                self.visit(value)

    def visit_Try(self, node: ast.Try) -> None:
        if any(_catches_fallback(h) for h in node.handlers):
            self._guarded(node.body)
        else:
            for child in node.body:
                self.visit(child)
        for child in [*node.handlers, *node.orelse, *node.finalbody]:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] in POSIX_MODULES:
                self.flag(node, f"import {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = (node.module or "").split(".")[0]
        if node.level == 0 and module in POSIX_MODULES:
            self.flag(node, f"from {node.module} import ...")
        if node.level == 0 and module in ("os", "signal"):
            banned = POSIX_OS if module == "os" else POSIX_SIGNALS
            for alias in node.names:
                if alias.name in banned:
                    self.flag(node, f"from {module} import {alias.name}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        base = ast.unparse(node.value)
        if (base == "os" and node.attr in POSIX_OS) or (base == "signal" and node.attr in POSIX_SIGNALS):
            self.flag(node, f"{base}.{node.attr}")
        elif node.attr in POSIX_METHODS:
            self.flag(node, f".{node.attr}()")
        elif base == "socket" and node.attr in ("SO_REUSEPORT", "AF_UNIX"):
            self.flag(node, f"socket.{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        for kw in node.keywords:
            if kw.arg == "preexec_fn":
                self.flag(node, "preexec_fn=")
            if kw.arg == "reuse_port" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                self.flag(node, "reuse_port=True")
        if node.args and isinstance(node.args[0], ast.List | ast.Tuple) and node.args[0].elts:
            first = node.args[0].elts[0]
            if isinstance(first, ast.Constant) and first.value in POSIX_PROGRAMS:
                self.flag(node, f"runs {first.value!r} (a POSIX program)")
        self.generic_visit(node)


def scan_source(source: str, path: str = "<source>") -> list[Finding]:
    scanner = _Scanner(path)
    scanner.visit(ast.parse(source))
    return scanner.findings


def scan(files: list[Path], root: Path) -> list[Finding]:
    found: list[Finding] = []
    for file in files:
        found += scan_source(file.read_text(encoding="utf-8"), str(file.relative_to(root)))
    return found
