"""One reader for settings from the environment: a value that cannot be used names its variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spotctl_sandbox.common.env import Env, EnvError

ROOT = Path(__file__).resolve().parents[2]


def test_blank_means_unset_and_values_are_stripped() -> None:
    env = Env({"N": " 7 ", "BLANK": "  ", "P": "/tmp/x"})
    assert env.integer("N", 1) == 7 and env.integer("BLANK", 3) == 3 and env.integer("UNSET", 4) == 4
    assert env.text("BLANK", "d") == "d" and env.optional("BLANK") is None
    assert env.path("P", "y") == Path("/tmp/x") and env.number("N", 0.5) == 7.0


@pytest.mark.parametrize(("read", "raw", "message"), [
    (lambda e: e.integer("X", 1), "7.5", "X='7.5' is not a whole number"),
    (lambda e: e.number("X", 1.0), "fast", "X='fast' is not a number"),
    (lambda e: e.number("X", 1.0), "nan", "X='nan' is not a finite number"),
    (lambda e: e.port("X", 80), "70000", "X='70000' is not a port number (0-65535)"),
    (lambda e: e.integer("X", 1, minimum=1), "0", "X='0' is not at least 1"),
])
def test_an_unusable_value_names_the_variable(read: object, raw: str, message: str) -> None:
    with pytest.raises(EnvError) as info:
        read(Env({"X": raw}))  # type: ignore[operator]
    assert str(info.value) == message


def test_every_services_settings_read_through_it() -> None:
    from spotctl_sandbox.api.config import ApiConfig
    from spotctl_sandbox.hub.config import HubConfig
    from spotctl_sandbox.workers.config import WorkerConfig

    with pytest.raises(EnvError, match="API_RPC_TIMEOUT_S='soon'"):
        ApiConfig.from_env(Env({"API_RPC_TIMEOUT_S": "soon"}))
    with pytest.raises(EnvError, match="HUB_CONN_RATE='fast'"):
        HubConfig.from_env(Env({"HUB_CONN_RATE": "fast"}))
    with pytest.raises(EnvError, match="SMTP_PORT='smtp'"):
        WorkerConfig.from_env(Env({"SMTP_PORT": "smtp"}))
    with pytest.raises(EnvError, match="HUB_WORKERS='two'"):
        WorkerConfig.from_env(Env({"HUB_WORKERS": "two"}))
    assert HubConfig.from_env(Env({"PORT": "9000", "HUB_WORKERS": "3"})).port == 9000


@pytest.mark.parametrize(("service", "variable"), [("api", "PORT"), ("hub", "HUB_CONN_RATE"),
                                                   ("workers", "SMTP_PORT"), ("analytics", "PORT"),
                                                   ("monitor", "PORT")])
def test_a_service_with_a_bad_setting_exits_2_with_one_line(service: str, variable: str) -> None:
    proc = subprocess.run([sys.executable, "-m", f"spotctl_sandbox.{service}"], capture_output=True, text=True,
                          env={**os.environ, variable: "bogus"}, timeout=60, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert f"{service}: bad configuration: {variable}='bogus' is not" in proc.stderr
    assert "Traceback" not in proc.stderr
