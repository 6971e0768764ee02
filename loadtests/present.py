"""What `spotctl load run` shows: the live line and the summary's rows (pure: dicts in, text out).

The live line leads with what a perf engineer watches (p99, then time left) and drops the least
important fields until it fits the terminal; the summary speaks HTTP for the api scenario (requests,
failed requests) and WebSocket for the others (connections, drops with their close codes).
"""

from __future__ import annotations

from typing import Any

from .summary import describe_closes


def _codes(close_codes: dict[str, int]) -> str:
    return " (" + ", ".join(f"{code}x{n}" for code, n in sorted(close_codes.items())) + ")" if close_codes else ""


def _time(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def live_fields(p: dict[str, Any], users: int) -> list[str]:
    """The live figures, most important first."""
    http = p.get("protocol") == "http"
    p99 = f"p99 {p['p99_ms']:.1f} ms" if p.get("p99_ms") else "p99 -"
    out = [p99, f"{_time(p.get('remaining_s', 0))} left", f"users {p['users']:,}/{users:,}"]
    if http:
        out += [f"{p.get('requests', 0):,} requests", f"failed {p['failures']}"]
    else:
        out += [f"conns {p['connections']:,}", f"drops {p['drops']}{_codes(p.get('close_codes') or {})}"]
        limited = p.get("rate_limited")
        if limited:
            out.append(f"hub rate-limited {sum(limited.values()):,}")
        out += [f"{p['deliveries_per_s']:,.0f} msg/s", f"failures {p['failures']}"]
        if p.get("handshake_failures"):
            out.append(f"failed handshakes {p['handshake_failures']}")
    out += [f"p50 {p['p50_ms']:.1f} ms", f"gen cpu {p['cpu_max']:.0f}%"]
    return out


def live_line(p: dict[str, Any], users: int, width: int) -> str:
    """As many fields as fit in `width` columns, in order (the first always)."""
    line = ""
    for field in live_fields(p, users):
        candidate = f"{line}  {field}" if line else field
        if len(candidate) > width and line:
            break
        line = candidate
    return line[:width]


def summary_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary table's rows: figures in the scenario's own terms, then every check."""
    rows = [("scenario", f"{s['scenario']} against {s['target']}"), ("users", f"{s['users']:,}")]
    latency = (f"{s['p50_ms']} / {s['p99_ms']} / {s['max_ms']} ms "
               f"({s['latency_samples']:,} samples)")
    if s.get("protocol") == "http":
        rows += [("requests", f"{s['requests']:,}"), ("failed requests", f"{s['failures']:,}"),
                 ("flow requests timed", f"{s['messages']:,} ({s['deliveries_per_s']:,.1f}/s)"),
                 ("request time p50 / p99 / max", latency)]
    else:
        drops = f"{s['drops']}" + (f" ({describe_closes(s['close_codes'])})" if s.get("close_codes") else "")
        rows += [("connections peak", f"{s['connections_peak']:,}"),
                 ("connect time p50 / p99 / max", f"{s.get('connect_p50_ms', 0)} / {s.get('connect_p99_ms', 0)} / "
                                                  f"{s.get('connect_max_ms', 0)} ms"),
                 ("drops", drops),
                 ("failed handshakes", f"{s['handshake_failures']} ({s['handshake_retries']} retries)")]
        if s.get("messages") or s.get("sent"):
            rows += [("messages delivered", f"{s['messages']:,} ({s['deliveries_per_s']:,.0f}/s)"),
                     ("latency p50 / p99 / max", latency)]
        rows.append(("Locust failures", str(s["failures"])))
    limited = s.get("hub_rate_limited")
    if limited is not None:
        rows.append(("hub rate-limited frames", ", ".join(f"{k} {v:,}" for k, v in limited.items()) or "0"))
    rows += [("generator CPU (peak)", f"{s['generator_cpu_max']:.0f}%"),
             ("server CPU / RSS (peak)", server_peaks(s)),
             ("duration (held)", f"{s['duration_s']} s ({s['hold_s']} s)")]
    rows += [(f"check: {c['name']}", ("pass: " if c["ok"] else "FAIL: ") + c["detail"]) for c in s["checks"]]
    return rows


def server_peaks(s: dict[str, Any]) -> str:
    if s.get("server_cpu_max") is None:
        return "not sampled (the server's processes are not on this machine, or not known)"
    return f"{s['server_cpu_max']:.0f}% / {s.get('server_rss_mb_max') or 0:.0f} MB"


def verdict(s: dict[str, Any]) -> str:
    if s.get("interrupted"):
        return "INTERRUPTED (FAILED)"
    return "PASSED" if s.get("passed") else "FAILED"
