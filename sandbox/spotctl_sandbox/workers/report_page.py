"""Render a DailyReport as a standalone HTML page (Jinja2 template shipped with the package).

Autoescaping is on: song titles and search queries come from users.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import jinja2

from spotctl_sandbox.workers.report import DailyReport

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("spotctl_sandbox.workers", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def report_filename(day: dt.date) -> str:
    return f"daily-{day.isoformat()}.html"


def growth_text(new_users: int, users_before: int | None) -> str:
    """'+3 (+1.5%)' against the users that existed before the day; just '+3' when that is unknown."""
    if users_before is None:
        return f"+{new_users}"
    if users_before == 0:
        return f"+{new_users} (first users)" if new_users else "+0"
    return f"+{new_users} ({100 * new_users / users_before:+.1f}%)"


def render(report: DailyReport, *, titles: Mapping[str, str], events_read: int,
           users_before: int | None, generated_at: dt.datetime) -> str:
    return _ENV.get_template("daily_report.html.j2").render(
        r=report, titles=titles, events_read=events_read,
        growth=growth_text(report.new_users, users_before),
        generated_at=generated_at.isoformat(timespec="seconds"),
    )


def write(reports_dir: Path, report: DailyReport, html: str) -> Path:
    """Write atomically (tmp + rename) so a reader never sees half a report."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / report_filename(report.day)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
