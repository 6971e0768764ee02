"""`spotctl metrics query PROMQL [--range 15m]`: ask Prometheus, see a table, JSON or sparklines.

Without --range it is an instant query (one value per series); with it, a range query drawn as one
sparkline per series. Prometheus's own message comes back for an expression it refuses (exit 2).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from spotctl.output import OutputFormat, OutputOpt

KEY = "PROMETHEUS_URL"
UrlOpt = Annotated[str | None, typer.Option("--url", help="Prometheus URL (default: $PROMETHEUS_URL, then the "
                                           "stack).", show_default=False)]

app = typer.Typer(help="Query Prometheus: instant values, or sparklines over a time range.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="metrics", help="Query Prometheus (instant values, or sparklines over --range).")


def prometheus_url(url: str | None) -> str:
    from spotctl.clients.reach import require
    from spotctl.endpoints import resolve

    return require(KEY, resolve({KEY: url}).prometheus_url)


@app.command("query")
def query_cmd(
    promql: Annotated[str, typer.Argument(help="A PromQL expression, e.g. 'rate(spotctl_api_requests_total[5m])'.")],
    range_: Annotated[str | None, typer.Option("--range", help="Look back this long (e.g. 15m, 2h): a sparkline "
                                                                "per series.", show_default=False)] = None,
    step: Annotated[str | None, typer.Option("--step", help="Resolution of --range (default: ~120 points).",
                                             show_default=False)] = None,
    url: UrlOpt = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Run PROMQL now (one value per series) or over --range (a sparkline per series)."""
    from spotctl.clients.prometheus import PrometheusClient

    with PrometheusClient(prometheus_url(url)) as prom:
        if range_ is None:
            _instant(prom, promql, output)
        else:
            _ranged(prom, promql, range_, step, output)


def _instant(prom: Any, promql: str, output: OutputFormat) -> None:
    from spotctl.inspect.metrics_view import finite_or_none, number, series_name
    from spotctl.output import emit, info

    samples = prom.query(promql)
    if output is OutputFormat.table and not samples:
        info("no series (the expression is valid; nothing matches yet)")
    emit({"query": promql, "result": [{"labels": dict(s.labels), "value": finite_or_none(s.value)}
                                      for s in samples]}, output,
         ("SERIES", "VALUE"), [(series_name(s.labels), number(s.value)) for s in samples])


def _ranged(prom: Any, promql: str, range_: str, step: str | None, output: OutputFormat) -> None:
    import math
    import time

    from spotctl.inspect.alerts_view import parse_duration
    from spotctl.inspect.metrics_view import finite_or_none, number, series_name, sparkline, step_for
    from spotctl.output import emit, info

    window = parse_duration(range_).total_seconds()
    resolution = parse_duration(step).total_seconds() if step else step_for(window)
    end = time.time()
    series = prom.query_range(promql, end - window, end, resolution)
    if output is OutputFormat.table and not series:
        info(f"no series over the last {range_} (the expression is valid; nothing matches)")
    rows = []
    for s in series:
        values = [v for _, v in s.points]
        finite = [v for v in values if math.isfinite(v)] or [math.nan]
        rows.append((series_name(s.labels), number(values[-1]), number(min(finite)), number(max(finite)),
                     sparkline(values, 30)))
    data = [{"labels": dict(s.labels), "points": [[t, finite_or_none(v)] for t, v in s.points]} for s in series]
    emit({"query": promql, "range_s": window, "step_s": resolution, "series": data}, output,
         ("SERIES", "LAST", "MIN", "MAX", f"LAST {range_}"), rows)
