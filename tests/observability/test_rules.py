"""The alerting configuration: promtool checks and unit-tests every rule, amtool checks Alertmanager's
routing, every Grafana panel's and TUI series' PromQL parses, and the fast test timings render right.

No stack needed: promtool and amtool come with the Debian packages `scripts/dev.py` installs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "compose" / "prometheus" / "rules"
DASHBOARDS = ROOT / "compose" / "grafana" / "dashboards"


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed: `python3 scripts/dev.py test` installs it (Debian package prometheus)"
    return found


def run(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=60, check=False)


def alert_names(path: Path) -> set[str]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def test_promtool_accepts_the_rules_and_the_prometheus_config() -> None:
    files = sorted(RULES.glob("*.rules.yml"))
    assert files
    checked = run(tool("promtool"), "check", "rules", *map(str, files))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = run(tool("promtool"), "check", "config", "--syntax-only", "prometheus.yml", cwd=RULES.parent)
    assert config.returncode == 0, config.stdout + config.stderr


def test_every_alert_rule_has_a_unit_test_that_expects_it_to_fire() -> None:
    rules = set().union(*(alert_names(p) for p in RULES.glob("*.rules.yml")))
    fired = set()
    for test_file in RULES.glob("*.test.yml"):
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            fired |= {t["alertname"] for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    assert rules >= {"ServiceDown", "HubDeliveryLatencyHigh", "ApiErrorRatioHigh", "DeadLetterQueueNotEmpty",
                     "KafkaConsumerLagGrowing", "KafkaConsumerStalled", "BullMQFailedJobsRising",
                     "RedisMemoryNearLimit", "RedisDown", "PostgresDown", "RabbitMQDown", "KafkaDown"}
    assert rules - fired == set(), "rules without a firing unit test"


def test_promtool_unit_tests_pass() -> None:
    result = run(tool("promtool"), "test", "rules", *map(str, sorted(RULES.glob("*.test.yml"))), cwd=RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_rule_fails_its_unit_test(tmp_path: Path) -> None:
    """The unit tests can fail: a threshold moved from 90% to 99% no longer fires on 95% memory."""
    for path in RULES.glob("stores.*.yml"):
        shutil.copy(path, tmp_path / path.name)
    rules = tmp_path / "stores.rules.yml"
    rules.write_text(rules.read_text().replace("> 0.9)", "> 0.99)"))
    result = run(tool("promtool"), "test", "rules", "stores.test.yml", cwd=tmp_path)
    assert result.returncode != 0 and "RedisMemoryNearLimit" in result.stdout + result.stderr


def test_alertmanager_config_routes_groups_and_inhibits() -> None:
    config_file = ROOT / "compose" / "alertmanager" / "alertmanager.yml"
    result = run(tool("amtool"), "check-config", str(config_file))
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(config_file.read_text())
    assert config["route"]["group_by"] and config["inhibit_rules"]
    hooks = [h["url"] for r in config["receivers"] for h in r.get("webhook_configs", [])]
    assert hooks == ["http://monitor:8095/alerts"] and config["receivers"][0]["webhook_configs"][0]["send_resolved"]


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, PromQL) of every target of every provisioned dashboard."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            found += [(board["title"], panel["title"], t["expr"]) for t in panel.get("targets", [])]
    return found


def test_the_seeds_three_dashboards_are_provisioned_against_the_prometheus_datasource() -> None:
    titles = {json.loads(p.read_text())["title"] for p in DASHBOARDS.glob("*.json")}
    assert titles == {"System Health", "Business Metrics", "Infrastructure"}
    source = yaml.safe_load((ROOT / "compose" / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
                            .read_text())["datasources"][0]
    uids = {t["datasource"]["uid"] for path in DASHBOARDS.glob("*.json")
            for p in json.loads(path.read_text())["panels"] for t in p.get("targets", [])}
    assert uids == {source["uid"]} and source["url"] == "http://prometheus:9090"


def test_every_grafana_panel_and_tui_series_query_parses(tmp_path: Path) -> None:
    from spotctl.inspect.metrics_view import KEY_SERIES

    queries = panel_queries() + [("tui", what, expr) for what, expr, _ in KEY_SERIES]
    assert len(queries) > 40
    rules = [{"record": f"check:query_{i}", "expr": expr} for i, (_, _, expr) in enumerate(queries)]
    (tmp_path / "queries.yml").write_text(yaml.safe_dump({"groups": [{"name": "queries", "rules": rules}]}))
    result = run(tool("promtool"), "check", "rules", str(tmp_path / "queries.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_query_that_does_not_parse_is_caught(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(
        {"groups": [{"name": "q", "rules": [{"record": "check:bad", "expr": "sum(rate(up[5m])"}]}]}))
    assert run(tool("promtool"), "check", "rules", str(tmp_path / "bad.yml")).returncode != 0


def test_fast_timings_shorten_every_wait_and_keep_the_expressions() -> None:
    from spotctl.stack.drivers.observability import render_alertmanager, render_prometheus, render_rules

    text = (RULES / "queues.rules.yml").read_text()
    fast = yaml.safe_load(render_rules(text, fast=True))
    slow = yaml.safe_load(text)
    assert {r["for"] for g in fast["groups"] for r in g["rules"]} == {"1s"}
    assert [r["expr"] for g in fast["groups"] for r in g["rules"]] == [r["expr"] for g in slow["groups"]
                                                                        for r in g["rules"]]
    assert render_rules(text, fast=False) == text
    prom = yaml.safe_load(render_prometheus((RULES.parent / "prometheus.yml").read_text(), fast=True))
    assert prom["global"]["evaluation_interval"] == "1s" and prom["global"]["scrape_interval"] == "2s"
    am = yaml.safe_load(render_alertmanager((ROOT / "compose" / "alertmanager" / "alertmanager.yml").read_text(),
                                            fast=True))
    assert am["route"]["group_wait"] == am["route"]["routes"][0]["group_wait"] == "1s"


@pytest.mark.parametrize("name", ["stores", "services", "queues"])
def test_each_rules_file_has_its_unit_test_file(name: str) -> None:
    test_file = RULES / f"{name}.test.yml"
    assert yaml.safe_load(test_file.read_text())["rule_files"] == [f"{name}.rules.yml"]
