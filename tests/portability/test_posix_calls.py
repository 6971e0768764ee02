"""Windows is a first-class user: the CLI's own code paths (and the load tool it drives) make no
POSIX-only call outside the local runtime, whose servers are Linux-only anyway."""

from __future__ import annotations

from pathlib import Path

from .posix_calls import scan, scan_source

ROOT = Path(__file__).resolve().parents[2]
# cli/spotctl/stack/ is the local runtime (native servers, process groups), except what the docker runtime
# shares with it: these modules run on Windows too.
SHARED_STACK = {"__init__.py", "compose.py", "docker.py", "docker_state.py", "runtime.py", "validate.py",
                "probes.py", "plan.py", "certs.py"}


def cli_files() -> list[Path]:
    stack = ROOT / "cli" / "spotctl" / "stack"
    files = sorted((ROOT / "cli" / "spotctl").rglob("*.py")) + sorted((ROOT / "loadtests").rglob("*.py"))
    return [f for f in files if stack not in f.parents or (f.parent == stack and f.name in SHARED_STACK)]


def test_the_cli_and_the_load_tool_make_no_posix_only_calls() -> None:
    files = cli_files()
    assert len(files) > 50 and ROOT / "cli" / "spotctl" / "stack" / "docker.py" in files
    found = scan(files, ROOT)
    assert not found, "POSIX-only calls outside the local runtime:\n" + "\n".join(map(str, found))


def test_the_scan_flags_unguarded_calls_and_accepts_guarded_ones() -> None:
    flagged = scan_source(
        "import os, signal, fcntl\n"
        "os.fork()\n"
        "os.killpg(1, signal.SIGKILL)\n"
        "loop.add_signal_handler(signal.SIGTERM, stop)\n"
        "subprocess.run(['ss', '-tn'])\n"
        "serve(handler, reuse_port=True)\n")
    assert [f.what for f in flagged] == ["import fcntl", "os.fork", "os.killpg", "signal.SIGKILL",
                                         ".add_signal_handler()", "runs 'ss' (a POSIX program)", "reuse_port=True"]
    guarded = scan_source(
        "import sys, os, signal\n"
        "if hasattr(os, 'fork'):\n    os.fork()\n"
        "if sys.platform == 'win32':\n    pass\nelse:\n    os.killpg(1, signal.SIGTERM)\n"
        "euid = sys.platform != 'win32' and os.geteuid()\n"
        "try:\n    import resource\nexcept ImportError:\n    resource = None\n"
        "try:\n    loop.add_signal_handler(signal.SIGTERM, stop)\nexcept NotImplementedError:\n    pass\n")
    assert guarded == []
