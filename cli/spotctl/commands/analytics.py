"""`spotctl analytics`: the analytics service's metrics as a table, JSON or a terminal chart.

Talks to the analytics API (ANALYTICS_URL, which reads InfluxDB) through `spotctl.clients.analytics`.
The ml commands (anomalies, forecast, segments, models, train, simulate) register on the same group
and reach the API the same way.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated, Any

import typer

from spotctl.clients.analytics import answer, api
from spotctl.output import OutputFormat, OutputOpt, emit, info

app = typer.Typer(help="Analytics: windowed metrics per tenant, dashboards' data, terminal charts.",
                  no_args_is_help=True)

UrlOpt = Annotated[str | None, typer.Option("--url", help="Analytics API (default: $ANALYTICS_URL, then the stack).",
                                            show_default=False)]
TokenOpt = Annotated[str | None, typer.Option("--token", help="A bearer token with an analytics role "
                                              "(default: sign one with the stack's JWT_SECRET).", show_default=False)]


def register(root: typer.Typer) -> None:
    from spotctl.commands.analytics_ml import register_ml

    register_ml(app)
    root.add_typer(app, name="analytics", help="Analytics: metrics per tenant and window, charts, ML models.")


@app.command("metrics")
def metrics_cmd(
    metric: Annotated[str | None, typer.Argument(help="e.g. plays, active_users, error_rate, song_plays; "
                                                 "none: list metrics and tenants")] = None,
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant.")] = "default",
    since: Annotated[str, typer.Option("--since", help="Start: -1h, -15m, epoch or ISO 8601.")] = "-1h",
    until: Annotated[str, typer.Option("--until", help="End: now, -5m, epoch or ISO 8601.")] = "now",
    step: Annotated[str, typer.Option("--step", help="Bucket size: 1m, 5m, 1h.")] = "1m",
    window: Annotated[str | None, typer.Option("--window", help="Stream window series: 1m, 5m, 1h, "
                                               "5m-sliding, 1h-sliding (default 1m).")] = None,
    aggregation: Annotated[str | None, typer.Option("--agg", help="sum, mean, min, max, count, last, median "
                                                    "(default: sum for counts, mean for gauges).")] = None,
    group_by: Annotated[str | None, typer.Option("--group-by", help="A tag, e.g. song_id or type.")] = None,
    chart: Annotated[bool, typer.Option("--chart", help="Draw a terminal chart instead of a table.")] = False,
    url: UrlOpt = None, token: TokenOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """A tenant's metric over time (windows the stream processor wrote to InfluxDB)."""
    from spotctl.clients._http import segment

    with api(url, token) as client:
        if metric is None:
            found = answer(client.get("/analytics/metrics"))
            emit(found, output, ["", "names"], [("metrics", ", ".join(found["metrics"]) or "none yet"),
                                                ("tenants", ", ".join(found["tenants"]) or "none yet")])
            return
        params = {"metric": metric, "start": since, "end": until, "step": step, "window": window,
                  "aggregation": aggregation, "group_by": group_by}
        data = answer(client.get(f"/analytics/metrics/{segment(tenant)}",
                                 params={k: v for k, v in params.items() if v}))
    if chart and output is OutputFormat.table:
        draw(data)
        return
    rows = [(_when(ts), _group(s["tags"]), _num(value)) for s in data["series"] for ts, value in s["points"]]
    window_note = f", window {data['window']}" if data["window"] else ""
    title = f"{metric} of {tenant} ({data['aggregation']} per {step}{window_note})"
    emit(data, output, ["time (UTC)", "group", "value"], rows, title=title)
    if not rows and output is OutputFormat.table:
        info("no points in that range yet (a 1 min window is written as it fills and final once it closes)")


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _group(tags: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.4g}"


def draw(data: dict[str, Any], width: int = 78, height: int = 16) -> None:
    """A line chart per group in the terminal (plotext), plain when NO_COLOR is set or not a tty."""
    import os

    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plain = bool(os.environ.get("NO_COLOR")) or not sys.stdout.isatty()
    if plain:
        plt.theme("clear")
    plt.date_form("d/m/Y H:M:S", "H:M")
    drawn = 0
    for series in data["series"]:
        points = [(p[0], p[1]) for p in series["points"] if p[1] is not None]
        if points:
            xs = [dt.datetime.fromtimestamp(t, dt.UTC).strftime("%d/%m/%Y %H:%M:%S") for t, _ in points]
            plt.plot(xs, [v for _, v in points], label=_group(series["tags"]) or None, marker="braille")
            drawn += 1
    if not drawn:
        info("no points to draw in that range yet")
        return
    plt.title(f"{data['metric']} ({data['aggregation']})")
    text = plt.build()
    sys.stdout.write((plt.uncolorize(text) if plain else text) + "\n")


@app.command("token")
def token_cmd(
    role: Annotated[str, typer.Option("--role", help="viewer, analyst or admin.")] = "viewer",
    user: Annotated[str, typer.Option("--user", help="The token's user id (alerts notify ids).")] = "spotctl-cli",
    ttl: Annotated[int, typer.Option("--ttl", min=60, max=86400, help="Lifetime in seconds.")] = 3600,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Sign a token for the analytics API with a role (for curl, dashboards, scenarios)."""
    import asyncio
    import warnings

    import redis.asyncio as aredis

    from spotctl.clients.reach import reaching, require
    from spotctl.endpoints import resolve
    from spotctl.errors import UsageError
    from spotctl_sandbox.analytics.api.auth import Role, mint

    if role not in Role.__members__:
        raise UsageError(f"unknown role {role!r}", hint="use viewer, analyst or admin")
    ep = resolve()

    async def sign() -> str:
        redis = aredis.Redis.from_url(require("REDIS_URL", ep.redis_url), socket_connect_timeout=2)
        try:
            token, _ = await mint(redis, require("JWT_SECRET", ep.jwt_secret), user, user, [role], ttl_s=ttl)
            return token
        finally:
            await redis.aclose()

    with warnings.catch_warnings(), reaching("REDIS_URL", ep.redis_url, OSError):
        warnings.simplefilter("ignore")  # PyJWT warns about the short dev secret
        token = asyncio.run(sign())
    if output is OutputFormat.json:
        from spotctl.output import print_json

        print_json({"token": token, "role": role, "user": user, "expires_in": ttl})
    else:
        sys.stdout.write(token + "\n")
        info(f"role {role}, user {user}, valid {ttl} s: curl -H 'Authorization: Bearer <token>' "
             f"{ep.analytics_url}/analytics/metrics")
