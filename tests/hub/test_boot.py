"""Starting the hub: outside development mode it refuses the development JWT secret, in one line."""

from __future__ import annotations

import subprocess
import sys

from spotctl_sandbox.common.settings import DEV_JWT_SECRET

from .conftest import ROOT, free_port


def start(**env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "PORT": str(free_port()), "METRICS_PORT": str(free_port()),
            "REDIS_URL": "redis://127.0.0.1:1/0", "HUB_WORKERS": "1"}
    return subprocess.run([sys.executable, "-m", "spotctl_sandbox.hub"], env={**base, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_production_with_the_development_secret_is_refused() -> None:
    for secret in (DEV_JWT_SECRET, "short"):
        done = start(SPOTCTL_ENV="production", JWT_SECRET=secret)
        assert done.returncode == 2 and done.stderr.startswith("hub: refusing to start: JWT_SECRET")
        assert "Traceback" not in done.stderr + done.stdout
    unset = start(JWT_SECRET=DEV_JWT_SECRET)  # no SPOTCTL_ENV: production, so refused too
    assert unset.returncode == 2 and "SPOTCTL_ENV" in unset.stderr
