"""Prometheus and Alertmanager over their HTTP APIs: context-managed clients returning plain views.

Used alike by `spotctl metrics`, `spotctl alerts` and the TUI's Metrics and Alerts screens. A server
that does not answer is `NotRunning` (one line: how to start it); a query Prometheus refuses is
`QueryError` carrying Prometheus's own message (a usage error, exit 2).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from spotctl.clients._http import HttpClient, NotRunning, segment
from spotctl.errors import SpotctlError, UsageError
from spotctl.inspect.alerts_view import ManagedAlert, Matcher, RuleAlert, Silence
from spotctl.inspect.metrics_view import Sample, Series

__all__ = ["AlertmanagerClient", "ManagedAlert", "Matcher", "NotRunning", "PrometheusClient", "QueryError",
           "RuleAlert", "Sample", "Series", "Silence"]


class QueryError(UsageError):
    """Prometheus refused the expression; the message is Prometheus's own."""


def _time(value: str | None) -> dt.datetime | None:
    if not value or value.startswith("0001-"):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _float(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return math.nan


class PrometheusClient(HttpClient):
    service = "prometheus"

    def __enter__(self) -> PrometheusClient:
        return self

    def _data(self, path: str, params: Mapping[str, Any]) -> Any:
        resp = self._request("GET", path, params=params)
        try:
            body = resp.json()
        except ValueError:
            raise SpotctlError(f"prometheus answered {resp.status_code} without JSON at {path}") from None
        if body.get("status") != "success":
            if body.get("errorType") in ("bad_data", "execution"):
                raise QueryError(f"prometheus: {body.get('error', 'query refused')}")
            raise SpotctlError(f"prometheus: {body.get('error') or resp.status_code}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """An instant query: one sample per series (a scalar is one sample without labels)."""
        data = self._data("/api/v1/query", {"query": expr, **({"time": at} if at is not None else {})})
        kind, result = data["resultType"], data["result"]
        if kind == "vector":
            return [Sample(r["metric"], _float(r["value"][1])) for r in result]
        if kind in ("scalar", "string"):
            return [Sample({}, _float(result[1]))]
        return [Sample(r["metric"], _float(r["values"][-1][1])) for r in result if r["values"]]  # matrix

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        data = self._data("/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step})
        return [Series(r["metric"], tuple((float(t), _float(v)) for t, v in r["values"])) for r in data["result"]]

    def alerts(self) -> list[RuleAlert]:
        data = self._data("/api/v1/alerts", {})
        return [RuleAlert(a.get("labels", {}), a.get("annotations", {}), a.get("state", ""),
                          _time(a.get("activeAt")), _float(a.get("value"))) for a in data.get("alerts", [])]


class AlertmanagerClient(HttpClient):
    service = "alertmanager"

    def __enter__(self) -> AlertmanagerClient:
        return self

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self._request(method, path, **kwargs)
        if resp.status_code >= 400:
            text = resp.text.strip().strip('"') or str(resp.status_code)
            raise (UsageError if resp.status_code == 400 else SpotctlError)(f"alertmanager: {text}")
        return resp.json() if resp.content else None

    def alerts(self) -> list[ManagedAlert]:
        raw = self._json("GET", "/api/v2/alerts", params={"silenced": "true", "inhibited": "true"})
        return [ManagedAlert(a.get("labels", {}), a.get("annotations", {}), a.get("status", {}).get("state", ""),
                             _time(a.get("startsAt")), a.get("fingerprint", ""),
                             tuple(a.get("status", {}).get("silencedBy") or ()),
                             tuple(a.get("status", {}).get("inhibitedBy") or ())) for a in raw or []]

    def silences(self) -> list[Silence]:
        return [Silence(s["id"], tuple(Matcher(m["name"], m["value"], m.get("isRegex", False), m.get("isEqual", True))
                                       for m in s.get("matchers", [])),
                        s.get("status", {}).get("state", ""), _time(s.get("startsAt")), _time(s.get("endsAt")),
                        s.get("createdBy", ""), s.get("comment", "")) for s in self._json("GET", "/api/v2/silences")]

    def silence(self, matchers: Sequence[Matcher], duration: dt.timedelta, comment: str, created_by: str) -> str:
        """Create a silence from now; returns its id."""
        now = dt.datetime.now(dt.UTC)
        body = {"matchers": [m.as_json() for m in matchers], "startsAt": now.isoformat(),
                "endsAt": (now + duration).isoformat(), "createdBy": created_by, "comment": comment}
        return str(self._json("POST", "/api/v2/silences", json=body)["silenceID"])

    def expire(self, silence_id: str) -> None:
        self._json("DELETE", f"/api/v2/silence/{segment(silence_id)}")

    def post(self, alerts: Iterable[Mapping[str, Any]]) -> None:
        """Send alerts as Prometheus would (labels, annotations, startsAt/endsAt)."""
        self._json("POST", "/api/v2/alerts", json=list(alerts))
