"""The analytics API (ANALYTICS_URL): an httpx client with a bearer token, and its answers as errors.

Without a token, one is signed with the stack's JWT_SECRET for the role asked (as the hub client does
for users) and its Redis session revoked when the client closes. The API's own reasons become one
line: 404/409/422 a usage error (404s list what exists), 503 ServiceDown naming the back-end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from spotctl.endpoints import Endpoints


@contextmanager
def api(url: str | None = None, token: str | None = None, role: str = "viewer",
        endpoints: Endpoints | None = None) -> Iterator[httpx.Client]:
    """An HTTP client on the analytics API with a bearer token (minted for `role` unless given), on the
    stack `endpoints` describe (the TUI's) or, by default, the one the environment resolves to."""
    import asyncio

    import httpx
    import redis.asyncio as aredis

    from spotctl.clients.reach import reaching, require
    from spotctl.endpoints import resolve

    ep = endpoints if endpoints is not None else resolve({"ANALYTICS_URL": url})
    base = require("ANALYTICS_URL", ep.analytics_url)
    jti = None
    if token is None:
        from spotctl_sandbox.analytics.api.auth import mint
        from spotctl_sandbox.common import tokens

        async def sign() -> tuple[str, str]:
            redis = aredis.Redis.from_url(require("REDIS_URL", ep.redis_url), socket_connect_timeout=2)
            try:
                return await mint(redis, require("JWT_SECRET", ep.jwt_secret), "spotctl-cli", "spotctl", [role],
                                  ttl_s=600)
            finally:
                await redis.aclose()

        async def revoke(jti: str) -> None:
            redis = aredis.Redis.from_url(ep.redis_url, socket_connect_timeout=2)
            try:
                await tokens.close_session(redis, jti)
            finally:
                await redis.aclose()

        import warnings

        with warnings.catch_warnings(), reaching("REDIS_URL", ep.redis_url, OSError):
            warnings.simplefilter("ignore")  # PyJWT warns about the short dev secret
            token, jti = asyncio.run(sign())
    try:
        with reaching("ANALYTICS_URL", base, httpx.ConnectError, httpx.ConnectTimeout), \
                httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            yield client
    finally:
        if jti is not None:
            import contextlib

            with contextlib.suppress(OSError):
                asyncio.run(revoke(jti))


def answer(resp: httpx.Response) -> Any:
    """The JSON body, or the API's own reason as a one-line error (404s list what exists)."""
    from spotctl.errors import ServiceDown, SpotctlError, UsageError

    if resp.status_code < 400:
        return resp.json() if resp.content else None
    try:
        detail = resp.json().get("detail", resp.text)
    except ValueError:
        detail = resp.text[:300]
    if resp.status_code == 503:
        raise ServiceDown("analytics", str(resp.request.url.copy_with(query=None)), str(detail))
    if resp.status_code in (400, 404, 409, 422):
        raise UsageError(str(detail))
    raise SpotctlError(f"analytics answered {resp.status_code}: {detail}")


def overview(client: httpx.Client, tenant: str, metric: str, since: str, step: str,
             horizon: str) -> dict[str, Any]:
    """What the TUI's analytics screen shows, in one go: a tenant's metric (1 min windows summed per
    `step`), its forecast, the tenant's recent anomalies and the model registry. A part the API refuses
    (a model not trained: 409, an unknown tenant: 404, InfluxDB down: 503) is `<part>_error`, its reason
    in one line, and the other parts still come; the service unreachable raises (ServiceDown, from `api`)."""
    from spotctl.clients._http import segment
    from spotctl.errors import SpotctlError

    requests: dict[str, tuple[str, dict[str, Any]]] = {
        "series": (f"/analytics/metrics/{segment(tenant)}", {"metric": metric, "start": since, "step": step,
                                                     "window": "1m", "aggregation": "sum"}),
        "forecast": ("/analytics/ml/forecast", {"tenant": tenant, "metric": metric, "horizon": horizon}),
        "anomalies": ("/analytics/ml/anomalies", {"tenant": tenant, "limit": 50}),
        "models": ("/analytics/ml/models", {}),
    }
    out: dict[str, Any] = {}
    for part, (path, params) in requests.items():
        try:
            out[part] = answer(client.get(path, params=params))
        except SpotctlError as exc:  # the API's own answer; a refused connection is not caught here
            out[f"{part}_error"] = exc.message
    return out
