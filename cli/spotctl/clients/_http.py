"""The shape every HTTP client here shares: a base URL, a context manager, one error for "not running"."""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from spotctl.errors import SpotctlError


def segment(value: str) -> str:
    """`value` as one path segment, quoted whole: a '/' or '..' a user typed (a tenant, a model name)
    names that thing to the server, which says what is wrong with it, instead of another endpoint."""
    return quote(value, safe="")


class NotRunning(SpotctlError):
    """One line on purpose: the whole fix is to start the service."""

    def __init__(self, service: str, url: str) -> None:
        super().__init__(f"{service} is not running at {url}: start it with `spotctl up {service}`")
        self.service, self.url = service, url


class HttpClient:
    service = ""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise NotRunning(self.service, self.url) from exc
