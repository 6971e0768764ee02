"""`spotctl analytics anomalies|forecast|segments|models|train|simulate`: the ML side of the analytics group.

`register_ml(app)` adds these to the `analytics` Typer group of `commands/analytics.py`. All but
`simulate` go through the analytics API's /analytics/ml routes with `spotctl.clients.analytics` (a
token minted for the role the route needs); `simulate` writes history straight into PostgreSQL and
InfluxDB like `spotctl seed` fills the catalogue, and so asks first (or takes `--yes`).
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated, Any

import typer

from spotctl.output import OutputFormat, OutputOpt, emit, info

MODELS_HELP = "anomaly_detector, predictive_analytics or behavior_analyzer"
TenantOpt = Annotated[str | None, typer.Option("--tenant", "-t", help="One tenant (default: all).")]
ChartOpt = Annotated[bool, typer.Option("--chart", help="Draw a terminal chart instead of a table.")]


def _client(role: str) -> Any:
    from spotctl.clients.analytics import api

    return api(None, None, role=role)


def _answer(resp: Any) -> Any:
    from spotctl.clients.analytics import answer

    return answer(resp)


def _when(value: str | None) -> str:
    if not value:
        return ""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M")


def _metric_summary(metrics: dict[str, Any]) -> str:
    """The figures a person looks at first, in one cell."""
    keys = ("precision", "recall", "incident_recall", "silhouette", "k", "flagged_share")
    parts = [f"{k} {metrics[k]}" for k in keys if k in metrics]
    for metric in ("plays", "active_users"):
        m = metrics.get(metric)
        if isinstance(m, dict) and "model_mape" in m:
            parts.append(f"{metric} MAPE {m['model_mape']}% (naive {m['seasonal_naive_mape']}%)")
    return "; ".join(parts)


def train(
    model: Annotated[str, typer.Argument(help=MODELS_HELP)],
    days: Annotated[float | None, typer.Option("--days", help="History to learn from (default 14; 21 to "
                                               "forecast).")] = None,
    tenant: Annotated[list[str] | None, typer.Option("--tenant", "-t", help="Tenants (repeat; default all).")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="Model parameter NAME=VALUE, e.g. "
                                                    "contamination=0.02 (repeat).")] = None,
    promote: Annotated[bool | None, typer.Option("--promote/--candidate", help="Make it the live version "
                                                 "(default: only a model's first version).")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Train a model on the stored features; print its version, status and evaluation."""
    from spotctl.errors import UsageError
    from spotctl.output import spinner

    params: dict[str, Any] = {}
    for item in param or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {item!r} is not NAME=VALUE")
        try:
            params[name] = int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            params[name] = value
    body = {"model": model, "days": days, "tenants": tenant or None, "params": params, "promote": promote}
    with _client("analyst") as client, spinner(f"training {model}"):
        record = _answer(client.post("/analytics/ml/train", json=body, timeout=600))
    rows = [("model", f"{record['name']} v{record['version']}"), ("status", record["status"]),
            ("data", f"{_when(record['window_start'])} .. {_when(record['window_end'])} UTC" if record["window_start"]
             else "user features"), ("tenants", ", ".join(record["tenants"])),
            ("evaluation", _metric_summary(record["metrics"])), ("seconds", record["seconds"])]
    emit(record, output, ["", "value"], rows, title="trained")


def models(
    name: Annotated[str | None, typer.Argument(help=f"{MODELS_HELP} (default: all).")] = None,
    promote: Annotated[int | None, typer.Option("--promote", help="Make VERSION of NAME the live one "
                                                "(admin).")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """The model registry: every version with its status, data window and evaluation."""
    from spotctl.clients._http import segment
    from spotctl.errors import UsageError

    if promote is not None:
        if name is None:
            raise UsageError("--promote needs the model NAME", hint="spotctl analytics models NAME --promote N")
        with _client("admin") as client:
            record = _answer(client.post(f"/analytics/ml/models/{segment(name)}/promote",
                                         json={"version": promote}))
        info(f"{record['name']} v{record['version']} is now promoted")
    with _client("viewer") as client:
        found = _answer(client.get("/analytics/ml/models", params={"name": name} if name else None))
    rows = [(m["name"], m["version"], m["status"], _when(m["created_at"]),
             f"{_when(m['window_start'])} .. {_when(m['window_end'])}" if m["window_start"] else "",
             _metric_summary(m["metrics"])) for m in found]
    emit(found, output, ["model", "v", "status", "created (UTC)", "data window", "evaluation"], rows)
    if not found and output is OutputFormat.table:
        info("no model trained yet: `spotctl analytics train anomaly_detector`")


def anomalies(
    tenant: TenantOpt = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO 8601 time (default: any).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000)] = 50,
    scan: Annotated[float | None, typer.Option("--scan", help="First run the detector over the last DAYS of "
                                               "stored minutes (analyst).")] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Minutes the promoted anomaly detector flagged (live, or by --scan), newest first."""
    from spotctl.output import spinner

    summary = None
    if scan is not None:
        with _client("analyst") as client, spinner("scanning stored minutes"):
            summary = _answer(client.post("/analytics/ml/anomalies/scan", json={"tenant": tenant, "days": scan},
                                          timeout=600))
    params: dict[str, Any] = {"limit": limit, "tenant": tenant, "since": since}
    with _client("viewer") as client:
        found = _answer(client.get("/analytics/ml/anomalies", params={k: v for k, v in params.items() if v}))
    rows = [(_when(a["minute"]), a["tenant"], f"{a['anomaly_score']:.3f}", "█" * round(a["anomaly_score"] * 10),
             ", ".join(a["reasons"]), a["source"]) for a in found]
    if not found and output is OutputFormat.table:
        info("no anomaly flagged" + (f" for {tenant}" if tenant else "") + (f" since {since}" if since else "")
             + "; a detector must be trained and promoted to score live minutes: "
               "spotctl analytics models, spotctl analytics train anomaly_detector")
    else:
        emit({"scan": summary, "anomalies": found} if summary else found, output,
             ["minute (UTC)", "tenant", "score", "bar", "why", "source"], rows)
    if summary and output is OutputFormat.table:
        truth = summary.get("against_ground_truth")
        info(f"scan: {summary['flagged']} of {summary['minutes']} minutes flagged by v{summary['model_version']}"
             + (f"; against the simulation's ground truth: precision {truth['precision']}, recall "
                f"{truth['recall']}, incidents caught {truth['incident_recall']}" if truth else ""))


def forecast(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant.")] = "default",
    metric: Annotated[str, typer.Option("--metric", "-m", help="plays or active_users.")] = "plays",
    horizon: Annotated[str, typer.Option("--horizon", help="24h, 48h, 7d ...")] = "24h",
    confidence: Annotated[float, typer.Option("--confidence", min=0.01, max=0.99)] = 0.9,
    chart: ChartOpt = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """The next hours of plays or active users, with an interval."""
    with _client("viewer") as client:
        fc = _answer(client.get("/analytics/ml/forecast", params={
            "tenant": tenant, "metric": metric, "horizon": horizon, "confidence_interval": confidence}))
    if chart and output is OutputFormat.table:
        draw_band(fc)
        return
    rows = [(_when(p["at"]), f"{p['value']:,.0f}", f"{p['lower']:,.0f}", f"{p['upper']:,.0f}") for p in fc["points"]]
    emit(fc, output, ["hour (UTC)", metric, f"low ({confidence:.0%})", "high"], rows,
         title=f"{metric} of {tenant}, next {fc['horizon_h']} h")


def draw_band(fc: dict[str, Any], width: int = 78, height: int = 18) -> None:
    """The forecast with its interval as a terminal chart (plain when NO_COLOR is set or not a tty)."""
    import os

    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plain = bool(os.environ.get("NO_COLOR")) or not sys.stdout.isatty()
    if plain:
        plt.theme("clear")
    plt.date_form("d/m/Y H:M:S", "H:M")
    xs = [dt.datetime.fromisoformat(p["at"].replace("Z", "+00:00")).strftime("%d/%m/%Y %H:%M:%S")
          for p in fc["points"]]
    plt.plot(xs, [p["upper"] for p in fc["points"]], label="high", marker="dot")
    plt.plot(xs, [p["value"] for p in fc["points"]], label=fc["metric"], marker="braille")
    plt.plot(xs, [p["lower"] for p in fc["points"]], label="low", marker="dot")
    plt.title(f"{fc['metric']} of {fc['tenant']}: next {fc['horizon_h']} h, {fc['confidence']:.0%} interval")
    text = plt.build()
    sys.stdout.write((plt.uncolorize(text) if plain else text) + "\n")


def segments(
    tenant: TenantOpt = None,
    chart: ChartOpt = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Listener segments of the promoted behaviour model: size, centre, silhouette."""
    with _client("viewer") as client:
        data = _answer(client.get("/analytics/ml/segments", params={"tenant": tenant} if tenant else None))
    sizes: dict[int, int] = {}
    for s in data["stored"]:
        sizes[s["segment"]] = sizes.get(s["segment"], 0) + s["users"]
    if chart and output is OutputFormat.table:
        total = max(sum(sizes.values()), 1)
        for s in data["segments"]:
            n = sizes.get(s["segment"], 0)
            sys.stdout.write(f"{s['label'][:22]:<22} {'█' * round(40 * n / total):<40} {n:>7,}\n")
        info(f"silhouette {data['silhouette']} (model v{data['model_version']})")
        return
    rows = [(s["segment"], s["label"], f"{sizes.get(s['segment'], 0):,}", f"{s['centre']['plays_7d']:.0f}",
             f"{s['centre']['night_share']:.2f}", f"{s['centre']['weekend_share']:.2f}",
             f"{s['centre']['distinct_artists_7d']:.0f}") for s in data["segments"]]
    emit(data, output, ["#", "segment", "users", "plays/7d", "night", "weekend", "artists"], rows,
         title=f"segments (v{data['model_version']}, silhouette {data['silhouette']})")


def simulate(
    days: Annotated[float, typer.Option("--days", help="Days of history.")] = 21,
    end: Annotated[str | None, typer.Option("--end", help="Where the history ends, ISO 8601 UTC (default: "
                                            "now).")] = None,
    tenants: Annotated[str, typer.Option("--tenants", help="Comma-separated tenant names.")]
    = "sim-north,sim-south,sim-east",
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same traffic.")] = 0,
    anomalies_per_day: Annotated[float, typer.Option("--anomalies-per-day", min=0, help="Per tenant.")] = 1.0,
    users: Annotated[int, typer.Option("--users", min=0, help="Listeners per tenant (user features).")] = 300,
    scale: Annotated[float, typer.Option("--scale", help="Mean plays per minute of the first tenant (the "
                                         "others get 3/8 and 3/20); match the live traffic to be scored.")] = 400,
    influx: Annotated[bool, typer.Option("--influx/--no-influx", help="Also write the series to InfluxDB.")] = True,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Write without asking.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Write simulated traffic history (seasonal, several tenants, injected anomalies with ground truth)."""
    import psycopg

    from spotctl.endpoints import resolve
    from spotctl.errors import ServiceDown, UsageError
    from spotctl.output import confirm, spinner
    from spotctl_sandbox.analytics.ml.history import simulate_into
    from spotctl_sandbox.analytics.ml.influx import InfluxUnavailable
    from spotctl_sandbox.analytics.ml.simulate import SimConfig

    names = tuple(t.strip() for t in tenants.split(",") if t.strip())
    try:
        until = None if end is None else dt.datetime.fromisoformat(end.replace("Z", "+00:00"))
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=dt.UTC)
        config = SimConfig(tenants=names, days=days, end=until, seed=seed, anomalies_per_day=anomalies_per_day,
                           users_per_tenant=users, scale=scale)
    except ValueError as exc:
        raise UsageError(f"--end {end!r} is not an ISO 8601 time" if "isoformat" in str(exc) else str(exc)) from exc
    endpoints = resolve()
    if not endpoints.database_url:
        raise UsageError("no DATABASE_URL configured", hint="see `spotctl config`")
    influx_url = endpoints.env.get("INFLUXDB_URL", "") if influx else ""
    if influx and not (influx_url and endpoints.redis_url):
        raise UsageError("no INFLUXDB_URL or REDIS_URL configured (InfluxDB and its spill buffer)",
                         hint="start them with `spotctl up influxdb redis`, or pass --no-influx")
    confirm(f"write {days:g} days of simulated traffic for {', '.join(names)} into the analytics feature tables"
            + (" and InfluxDB" if influx_url else "") + " (same minutes are overwritten)", yes)
    try:
        with spinner(f"simulating {days:g} days x {len(names)} tenants"):
            report = simulate_into(endpoints.database_url, config, influx_url or None, endpoints.redis_url or None)
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ServiceDown("postgres", endpoints.database_url, first) from exc
    except InfluxUnavailable as exc:
        raise ServiceDown("influxdb", influx_url, str(exc)) from exc
    rows = [("tenants", ", ".join(report.tenants)),
            ("window (UTC)", f"{report.window_start:%Y-%m-%d %H:%M} .. {report.window_end:%Y-%m-%d %H:%M}"),
            ("minutes", f"{report.minutes:,}"), ("users", f"{report.users:,}"),
            ("injected anomalies", f"{report.anomalies:,} (ground truth in analytics_simulated_anomalies)"),
            ("influxdb points", f"{report.influx_points:,}"), ("seconds", report.elapsed_s)]
    emit(report.as_dict(), output, ["", "value"], rows, title="simulated")
    if output is OutputFormat.table:
        info("next: `spotctl analytics train anomaly_detector`, then `spotctl analytics anomalies --scan 7`")


def register_ml(app: typer.Typer) -> None:
    """Add the ML commands to the `analytics` group."""
    for name, fn in (("anomalies", anomalies), ("forecast", forecast), ("segments", segments), ("models", models),
                     ("train", train), ("simulate", simulate)):
        app.command(name)(fn)
