"""The monitor (alert deliveries) and the workers' sinks (what arrived): where an alert landed."""

from __future__ import annotations

from typing import Any

from spotctl.clients._http import HttpClient
from spotctl.errors import SpotctlError


class MonitorClient(HttpClient):
    service = "monitor"

    def __enter__(self) -> MonitorClient:
        return self

    def deliveries(self, limit: int = 200) -> list[dict[str, Any]]:
        """Newest first: key, channel (hub|email|push), outcome (sent|failed|skipped), detail, title."""
        resp = self._request("GET", "/deliveries", params={"limit": limit})
        if resp.status_code != 200:
            raise SpotctlError(f"monitor answered {resp.status_code} on /deliveries")
        return list(resp.json()["deliveries"])


class SinksClient(HttpClient):
    """The workers' SMTP and push sinks, as their HTTP listing shows them."""

    service = "workers"

    def __enter__(self) -> SinksClient:
        return self

    def _list(self, sink: str, limit: int) -> list[dict[str, Any]]:
        resp = self._request("GET", f"/sinks/{sink}", params={"limit": limit})
        if resp.status_code != 200:
            raise SpotctlError(f"workers answered {resp.status_code} on /sinks/{sink}")
        return list(resp.json()["messages"])

    def emails(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._list("email", limit)

    def pushes(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._list("push", limit)
