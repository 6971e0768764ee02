"""Prometheus, Alertmanager and Grafana: the Debian packages' binaries when installed, else absent.

Under Docker all run from their images (profile `observability`). Locally their config files are the
compose folder's, written into the state dir with service host names rewritten for the host, like
every other value. `SPOTCTL_FAST_ALERTS=1` renders them with one- or two-second timings (evaluation,
scrapes, every rule's `for:`, Alertmanager's grouping) so tests and demos see an alert within seconds; the
files in `compose/` keep the production timings.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from spotctl.stack.drivers import Absent, Context, Launch, which
from spotctl.stack.plan import rewrite_value

FAST_ENV = "SPOTCTL_FAST_ALERTS"
FAST_INTERVAL = "1s"
FAST_SCRAPE = "2s"


def fast_mode() -> bool:
    return os.environ.get(FAST_ENV, "").lower() in ("1", "true", "yes")


# -- pure rendering ------------------------------------------------------------------------------

def _yaml_load(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def _yaml_dump(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


def render_prometheus(text: str, fast: bool) -> str:
    """prometheus.yml evaluating every second and scraping every two when `fast` (an exporter whose
    store is down, like PostgreSQL's, takes about a second to say so: a 1 s timeout would lose that)."""
    if not fast:
        return text
    config = _yaml_load(text)
    config.setdefault("global", {}).update(scrape_interval=FAST_SCRAPE, scrape_timeout=FAST_SCRAPE,
                                           evaluation_interval=FAST_INTERVAL)
    for job in config.get("scrape_configs") or []:
        job.pop("scrape_interval", None)
        job.pop("scrape_timeout", None)
    return _yaml_dump(config)


def render_rules(text: str, fast: bool) -> str:
    """A rules file with every alert's `for:` at one second when `fast` (expressions unchanged)."""
    if not fast:
        return text
    rules = _yaml_load(text)
    for group in rules.get("groups") or []:
        group.pop("interval", None)
        for rule in group.get("rules") or []:
            if "alert" in rule and rule.get("for"):
                rule["for"] = FAST_INTERVAL
    return _yaml_dump(rules)


def render_alertmanager(text: str, fast: bool) -> str:
    """alertmanager.yml with grouping waits of a second on every route when `fast`."""
    if not fast:
        return text
    config = _yaml_load(text)

    def visit(route: dict[str, Any]) -> None:
        route.update(group_wait=FAST_INTERVAL, group_interval=FAST_INTERVAL)
        for child in route.get("routes") or []:
            visit(child)

    visit(config["route"])
    return _yaml_dump(config)


# -- launches ------------------------------------------------------------------------------------

def find_prometheus() -> str:
    binary = which("prometheus")
    if binary is None:
        raise Absent("prometheus is not installed", "apt-get install prometheus, or use --runtime docker")
    return binary


def find_alertmanager() -> str:
    binary = which("prometheus-alertmanager", "alertmanager")
    if binary is None:
        raise Absent("alertmanager is not installed",
                     "apt-get install prometheus-alertmanager, or use --runtime docker")
    return binary


def find_grafana() -> str:
    binary = which("grafana-server", "grafana")
    if binary is None:
        raise Absent("grafana is not installed", "use --runtime docker for Grafana")
    return binary


def prometheus(ctx: Context) -> Launch:
    binary = find_prometheus()
    source = ctx.compose.path.parent / "prometheus"
    data = ctx.data_dir()
    rules = data / "rules"
    shutil.rmtree(rules, ignore_errors=True)
    rules.mkdir(parents=True)
    fast = fast_mode()
    for path in sorted((source / "rules").glob("*.rules.yml")):  # their promtool tests: *.test.yml
        (rules / path.name).write_text(render_rules(path.read_text(encoding="utf-8"), fast), encoding="utf-8")
    config = data / "prometheus.yml"
    text = rewrite_value((source / "prometheus.yml").read_text(encoding="utf-8"), ctx.compose, ctx.project)
    config.write_text(render_prometheus(text, fast), encoding="utf-8")
    options = [a for a in ctx.service.command if not a.startswith("--config.file")]
    argv = [binary, f"--config.file={config}", *options, f"--storage.tsdb.path={data / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{ctx.port(9090)}"]
    return Launch(argv=argv, env=ctx.base_env(), cwd=data, note="fast alert timings" if fast else "")


def alertmanager(ctx: Context) -> Launch:
    binary = find_alertmanager()
    data = ctx.data_dir()
    data.mkdir(parents=True, exist_ok=True)
    fast = fast_mode()
    source = ctx.compose.path.parent / "alertmanager" / "alertmanager.yml"
    text = rewrite_value(source.read_text(encoding="utf-8"), ctx.compose, ctx.project)
    config = data / "alertmanager.yml"
    config.write_text(render_alertmanager(text, fast), encoding="utf-8")
    port = ctx.port(9093)
    argv = [binary, f"--config.file={config}", f"--storage.path={data / 'state'}",
            f"--web.listen-address=127.0.0.1:{port}", f"--web.external-url=http://127.0.0.1:{port}",
            "--cluster.listen-address="]  # one instance: no gossip port to collide with other stacks
    return Launch(argv=argv, env=ctx.base_env(), cwd=data, note="fast alert timings" if fast else "")


def grafana(ctx: Context) -> Launch:
    """Provisioning rendered into the state dir: the datasource URL is the host's Prometheus."""
    binary = find_grafana()
    data = ctx.data_dir()
    provisioning = data / "provisioning"
    source = ctx.compose.path.parent / "grafana"
    for path in (source / "provisioning").rglob("*.yml"):
        target = provisioning / path.relative_to(source / "provisioning")
        target.parent.mkdir(parents=True, exist_ok=True)
        text = rewrite_value(path.read_text(encoding="utf-8"), ctx.compose, ctx.project)
        target.write_text(text.replace("/etc/grafana/dashboards", str(source / "dashboards")), encoding="utf-8")
    home = Path(binary).resolve().parent.parent / "share" / "grafana"
    argv = [binary, "server", f"--homepath={home}",
            f"cfg:server.http_port={ctx.port(3000)}", f"cfg:paths.data={data}",
            f"cfg:paths.provisioning={provisioning}"]
    return Launch(argv=argv, env=ctx.base_env(), cwd=data)
