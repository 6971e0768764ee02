"""Turn a client library's connection failure into one line: which service, which URL, how to start it.

Every client maps its library's connection errors through `reaching(...)`, so no connection traceback
reaches a user, whichever front end (CLI, TUI, guide) made the call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from spotctl.endpoints import service_of
from spotctl.errors import ServiceDown, SpotctlError


def redact(url: str) -> str:
    """The URL with its password hidden: error lines end up in bug reports and CI logs."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def require(key: str, url: str | None) -> str:
    """The configured URL for `key`, or a clear error naming the env var and flag to set."""
    if not url:
        raise SpotctlError(f"no {key} configured for {service_of(key)}",
                           hint=f"set {key} or pass --url (see `spotctl config`)")
    return url


def short(exc: BaseException) -> str:
    """An exception's first line, at most 160 characters (for one-line errors and TUI status bars)."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 160 else line[:157] + "..."


@contextmanager
def reaching(key: str, url: str, *errors: type[BaseException]) -> Iterator[None]:
    """Map `errors` raised inside the block to ServiceDown for the service behind `key`."""
    try:
        yield
    except errors as exc:
        raise ServiceDown(service_of(key), redact(url), short(exc)) from None
