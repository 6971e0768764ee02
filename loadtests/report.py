"""Markdown tables from result folders, for docs/BENCHMARKS.md: `python -m loadtests.report DIR...`.

One row per run from its summary.json (plus the peaks of samples.csv), and the rate-step curve of
stepped runs; so the figures in the docs are copied by a program, not by hand.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

from .sampler import peaks

HEADER = ("run", "target", "connections peak", "drops", "failed handshakes (retries)", "deliveries/s",
          "p50 / p99 / p99.9 / max ms", "hold s", "Locust worker CPU max %", "server CPU % (peak)",
          "server RSS MB (peak)", "run-queue wait % server / Locust (peak)", "load avg (peak)", "passed")


def row(folder: Path) -> tuple[str, ...]:
    s: dict[str, Any] = json.loads((folder / "summary.json").read_text())
    p = peaks(folder / "samples.csv")
    return (folder.name, s["target"], f"{s['connections_peak']:,}", str(s["drops"]),
            f"{s['handshake_failures']} ({s['handshake_retries']:,})", f"{s['deliveries_per_s']:,.0f}",
            f"{s['p50_ms']} / {s['p99_ms']} / {s['p999_ms']} / {s['max_ms']}", str(s["hold_s"]),
            f"{s['generator_cpu_max']:.0f}", f"{p.get('server_cpu', 0):.0f}" if p else "-",
            f"{p.get('server_rss_mb', 0):,.0f}" if p else "-",
            f"{p['server_wait']:.0f} / {p['locust_max_wait']:.0f}" if "server_wait" in p else "-",
            f"{p['load1']:.1f}" if "load1" in p else "-", "yes" if s["passed"] else "**no**")


def table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def curve(folder: Path) -> str:
    s = json.loads((folder / "summary.json").read_text())
    cols = ("offered msgs/s", "sent/s", "deliveries/s", "p50 ms", "p99 ms", "max ms")
    return table(cols, [(f"{r['offered_msgs_per_s']:g}", f"{r['sent_per_s']:g}", f"{r['deliveries_per_s']:,.0f}",
                         str(r["p50_ms"]), str(r["p99_ms"]), str(r["max_ms"])) for r in s.get("steps", [])])


def locust_rows(folder: Path) -> str:
    """Locust's own figures (locust_stats.csv): per request name, counts and response-time percentiles."""
    with (folder / "locust_stats.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["Name"] != "Aggregated"]
    cols = ("request", "count", "failures", "p50 ms", "p95 ms", "p99 ms", "max ms")
    return table(cols, [(r["Name"], f"{int(r['Request Count']):,}", r["Failure Count"], r["50%"], r["95%"],
                         r["99%"], f"{float(r['Max Response Time']):.0f}") for r in rows])


def main(args: list[str]) -> int:
    folders = [Path(a) for a in args if (Path(a) / "summary.json").exists()]
    if not folders:
        print("usage: python -m loadtests.report RESULTS_DIR... (folders holding summary.json)", file=sys.stderr)
        return 2
    print(table(HEADER, [row(f) for f in folders]))
    for f in folders:
        print(f"\n{f.name}, Locust's report:\n\n{locust_rows(f)}")
        if json.loads((f / "summary.json").read_text()).get("steps"):
            print(f"\n{f.name}, rate steps:\n\n{curve(f)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
