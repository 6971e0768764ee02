"""How a sandbox service starts: unusable settings refused in one line with exit code 2 (no
traceback for a configuration mistake), and the ASGI services' one way of running uvicorn."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .env import EnvError
from .settings import InsecureSettings


@contextmanager
def configuration(service: str) -> Iterator[None]:
    """Read the settings inside the block: a bad value, or production on the development secret, ends
    the process with one line on stderr and exit code 2."""
    try:
        yield
    except EnvError as exc:
        print(f"{service}: bad configuration: {exc}", file=sys.stderr)
        sys.exit(2)
    except InsecureSettings as exc:
        print(f"{service}: refusing to start: {exc}", file=sys.stderr)
        sys.exit(2)


def serve_asgi(app: Any, host: str, port: int) -> None:
    """uvicorn with uvloop and httptools when installed, no access log, and our JSON log lines
    (common.logs) for its own messages too."""
    import uvicorn

    uvicorn.run(app, host=host, port=port,
                loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
                http="httptools" if importlib.util.find_spec("httptools") else "h11",
                access_log=False, log_level="warning", timeout_graceful_shutdown=5, log_config=None)
