"""spotctl's part of report.html: the verdict, each check, delivery latency from the merged HDR
histogram and its timeline, put above Locust's own page.

Locust's page only knows Locust requests (its percentiles are per request name and rounded); the run's
gate is spotctl's, so the report a user opens first must show it. Pure rendering plus one insertion;
every value is escaped (data is printed literally).
"""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

from .present import server_peaks
from .summary import describe_closes

ANCHOR = '<div id="root">'
STYLE = ("font-family:system-ui,sans-serif;margin:16px;padding:16px;border:1px solid #888;border-radius:6px;"
         "background:#fff;color:#111")


def _table(rows: list[tuple[str, str]], head: tuple[str, str] = ("figure", "value")) -> str:
    cells = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>" for a, b in rows)
    return (f'<table style="border-collapse:collapse" cellpadding="4" border="1"><tr><th>{head[0]}</th>'
            f"<th>{head[1]}</th></tr>{cells}</table>")


def figures(s: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures behind the verdict, in the words of the scenario's protocol."""
    http = s.get("protocol") == "http"
    what = "flow request time" if http else "delivery latency"
    rows = [("scenario", f"{s['scenario']} against {s.get('target_description') or s['target']}"),
            (f"{what} p50 / p90 / p99 / p99.9 / max",
             f"{s['p50_ms']} / {s['p90_ms']} / {s['p99_ms']} / {s['p999_ms']} / {s['max_ms']} ms "
             f"({s['latency_samples']:,} samples)")]
    if http:
        rows.append(("requests", f"{s['requests']:,} ({s['failures']:,} failed)"))
    else:
        rows += [("connections peak", f"{s['connections_peak']:,} of {s['users']:,} users"),
                 ("connect time p50 / p99 / max",
                  f"{s.get('connect_p50_ms', 0)} / {s.get('connect_p99_ms', 0)} / {s.get('connect_max_ms', 0)} ms"),
                 ("drops", f"{s['drops']}" + (f" ({describe_closes(s['close_codes'])})" if s.get("close_codes")
                                               else "")),
                 ("messages delivered", f"{s['messages']:,} ({s['deliveries_per_s']:,.0f}/s), {s['sent']:,} sent")]
    limited = s.get("hub_rate_limited")
    if limited is not None:
        rows.append(("hub rate-limited frames", ", ".join(f"{k} {v:,}" for k, v in limited.items()) or "0"))
    server = server_peaks(s)
    rows += [("Locust worker CPU (peak, hold)", f"{s['generator_cpu_max']:.0f} %"), ("server CPU / RSS (peak)", server),
             ("held", f"{s['hold_s']} s of {s['duration_s']} s"), ("started", str(s.get("started_at", "")))]
    return rows


def chart(timeline: Path, width: int = 640, height: int = 160) -> str:
    """p50 and p99 (ms, per 2 s window) over the run, as an inline SVG; "" without a timeline."""
    if not timeline.exists():
        return ""
    with timeline.open() as f:
        points = [(float(r["elapsed_s"]), float(r["p50_ms"]), float(r["p99_ms"])) for r in csv.DictReader(f)]
    if len(points) < 2:
        return ""
    t_max = max(p[0] for p in points) or 1.0
    y_max = max(p[2] for p in points) or 1.0

    def line(index: int, color: str) -> str:
        coords = " ".join(f"{p[0] / t_max * width:.1f},{height - p[index] / y_max * height:.1f}" for p in points)
        return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>'

    return (f'<p>latency per 2 s window: <span style="color:#c33">p99</span>, <span style="color:#36c">p50</span> '
            f"(top = {y_max:g} ms, right = {t_max:g} s)</p>"
            f'<svg width="{width}" height="{height}" style="border:1px solid #ccc">'
            f'{line(2, "#c33")}{line(1, "#36c")}</svg>')


def section(s: dict[str, Any], timeline: Path) -> str:
    verdict = "PASSED" if s.get("passed") else ("INTERRUPTED" if s.get("interrupted") else "FAILED")
    color = "#2a7" if s.get("passed") else "#c33"
    checks = _table([(("pass: " if c["ok"] else "FAIL: ") + c["name"], c["detail"]) for c in s.get("checks", [])],
                    ("check", "detail"))
    return (f'<section id="spotctl" style="{STYLE}"><h1 style="color:{color};margin-top:0">spotctl: {verdict}</h1>'
            f"<h2>checks</h2>{checks}<h2>figures</h2>{_table(figures(s))}{chart(timeline)}"
            "<p>Locust's own page follows (per request name; spotctl's gate is above).</p></section>")


def add_to(report: Path, summary: dict[str, Any], timeline: Path) -> bool:
    """Put spotctl's section above Locust's page (or write it alone if Locust wrote none); False if
    the page has no place for it."""
    block = section(summary, timeline)
    if not report.exists():
        report.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>spotctl load</title></head>"
                          f"<body>{block}</body></html>")
        return True
    page = report.read_text(encoding="utf-8")
    if 'id="spotctl"' in page or ANCHOR not in page:
        return False
    verdict = "passed" if summary.get("passed") else "FAILED"
    page = page.replace(ANCHOR, block + ANCHOR, 1).replace(
        "<title>Locust</title>", f"<title>spotctl load {html.escape(summary['scenario'])}: {verdict}</title>", 1)
    report.write_text(page, encoding="utf-8")
    return True
