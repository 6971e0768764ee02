"""`spotctl alerts list|silence|unsilence|test`: what fires, quieting it, and proving the path works.

`list` reads Prometheus (pending and firing, with age) and Alertmanager (silenced, inhibited);
`test` sends a synthetic alert through Alertmanager and shows where it landed: the hub (ops users),
the SMTP sink and the push sink, as the monitor delivered them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from spotctl.output import OutputFormat, OutputOpt, styled

if TYPE_CHECKING:
    from rich.text import Text

    from spotctl.clients.prometheus import Silence
    from spotctl.inspect.alerts_view import AlertRow

TEST_ALERT = "SpotctlTestAlert"
PromOpt = Annotated[str | None, typer.Option("--prometheus-url", help="Prometheus URL (default: $PROMETHEUS_URL, "
                                            "then the stack).", show_default=False)]
AmOpt = Annotated[str | None, typer.Option("--alertmanager-url", help="Alertmanager URL (default: "
                                          "$ALERTMANAGER_URL, then the stack).", show_default=False)]

app = typer.Typer(help="Alerts: what is pending or firing, silences, and an end-to-end test.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="alerts", help="Alerts: list pending/firing, silence, unsilence, test end to end.")


def _url(key: str, given: str | None) -> str:
    from spotctl.clients.reach import require
    from spotctl.endpoints import resolve

    return require(key, resolve({key: given}).env.get(key))


def _alert_json(row: AlertRow) -> dict[str, Any]:
    return {"alert": row.name, "state": row.state, "severity": row.severity,
            "since": row.since.isoformat() if row.since else None, "labels": dict(row.labels),
            "summary": row.summary, "silenced_by": list(row.silenced_by)}


def _silence_json(s: Silence) -> dict[str, Any]:
    return {"id": s.id, "matchers": [str(m) for m in s.matchers], "state": s.state,
            "ends_at": s.ends_at.isoformat() if s.ends_at else None, "created_by": s.created_by,
            "comment": s.comment}


@app.command("list")
def list_cmd(prometheus_url: PromOpt = None, alertmanager_url: AmOpt = None,
             output: OutputOpt = OutputFormat.table) -> None:
    """Pending and firing alerts with their age (silenced/inhibited marked), then active silences."""
    from spotctl.clients.prometheus import AlertmanagerClient, NotRunning, PrometheusClient
    from spotctl.inspect.alerts_view import age, merge_alerts
    from spotctl.output import emit, info, print_json, warn

    with PrometheusClient(_url("PROMETHEUS_URL", prometheus_url)) as prom:
        rules = prom.alerts()
    try:
        with AlertmanagerClient(_url("ALERTMANAGER_URL", alertmanager_url)) as am:
            managed, silences = am.alerts(), [s for s in am.silences() if s.state == "active"]
    except NotRunning as exc:  # Prometheus' view still helps; say what is missing
        warn(f"{exc.message} (silenced/inhibited states and silences are not shown)")
        managed, silences = [], []
    rows = merge_alerts(rules, managed)
    if output is OutputFormat.json:
        print_json({"alerts": [_alert_json(r) for r in rows], "silences": [_silence_json(s) for s in silences]})
        return
    if not rows:
        info("no alert is pending or firing")
    else:
        emit(None, output, ("ALERT", "STATE", "SEVERITY", "AGE", "LABELS", "SUMMARY"),
             [(r.name, _state(r.state), r.severity, age(r.since),
               ", ".join(f"{k}={v}" for k, v in sorted(r.labels.items())), r.summary) for r in rows])
    if silences:
        emit(None, output, ("SILENCE", "MATCHERS", "ENDS", "BY", "COMMENT"),
             [(s.id, ", ".join(map(str, s.matchers)), s.ends_at.strftime("%Y-%m-%d %H:%M UTC")
               if s.ends_at else "", s.created_by, s.comment) for s in silences],
             title="active silences")


def _state(state: str) -> Text:
    return styled(state, {"firing": "red", "pending": "yellow", "silenced": "dim", "inhibited": "dim"}.get(state, ""))


@app.command("silence")
def silence_cmd(
    matchers: Annotated[list[str], typer.Argument(help="An alert name, or label matchers: service=redis, "
                                                       "alertname=~Kafka.*, instance!=x.", show_default=False)],
    for_: Annotated[str, typer.Option("--for", help="How long (e.g. 30m, 2h, 1d).")] = "1h",
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why (shown with the silence).")] =
    "silenced with spotctl",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    alertmanager_url: AmOpt = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Silence matching alerts for a while (asks first; off a terminal it needs --yes)."""
    import getpass

    from spotctl.clients.prometheus import AlertmanagerClient
    from spotctl.inspect import questions
    from spotctl.inspect.alerts_view import parse_duration, parse_matchers
    from spotctl.output import confirm, info, print_json

    parsed, duration = parse_matchers(matchers), parse_duration(for_)
    what = ", ".join(map(str, parsed))
    confirm(questions.silence_alerts(what, for_), yes)
    with AlertmanagerClient(_url("ALERTMANAGER_URL", alertmanager_url)) as am:
        silence_id = am.silence(parsed, duration, comment, created_by=f"{getpass.getuser()} (spotctl)")
    if output is OutputFormat.json:
        print_json({"silence_id": silence_id, "matchers": [str(m) for m in parsed],
                    "duration_s": duration.total_seconds()})
        return
    info(f"silenced {what} for {for_}; undo with `spotctl alerts unsilence {silence_id}`")
    print(silence_id)


@app.command("unsilence")
def unsilence_cmd(silence_id: Annotated[str, typer.Argument(help="The id `silence` printed (see `alerts list`).")],
                  alertmanager_url: AmOpt = None) -> None:
    """Expire a silence: its alerts notify again."""
    from spotctl.clients.prometheus import AlertmanagerClient
    from spotctl.errors import SpotctlError
    from spotctl.output import info

    with AlertmanagerClient(_url("ALERTMANAGER_URL", alertmanager_url)) as am:
        known = {s.id: s for s in am.silences()}
        if silence_id not in known:
            raise SpotctlError(f"no silence {silence_id}", hint="see the active ones with `spotctl alerts list`")
        if known[silence_id].state == "expired":
            info(f"silence {silence_id} had already expired")
            return
        am.expire(silence_id)
    info(f"silence {silence_id} expired: its alerts notify again")


@app.command("test")
def test_cmd(
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for every channel.")] = 30,
    alertmanager_url: AmOpt = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Fire a synthetic alert through Alertmanager and show where it landed (hub, email, push)."""
    from spotctl.commands._alert_test import run_test
    from spotctl.output import emit, err, spinner

    with spinner("sending a test alert and waiting for its deliveries…"):
        report = run_test(_url("ALERTMANAGER_URL", alertmanager_url), _url("MONITOR_URL", None),
                          _url("WORKERS_URL", None), timeout)
    emit(report.as_json(), output, ("CHANNEL", "RESULT", "WHERE"),
         [(c.channel, _outcome(c.outcome), c.where) for c in report.channels],
         title=f"test alert {report.test_id}")
    if output is OutputFormat.table and report.hint:
        from rich.text import Text

        err().print(Text.assemble(("hint:", "dim"), " ", report.hint), highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def _outcome(outcome: str) -> Text:
    return styled(outcome, {"landed": "green", "sent": "green", "skipped": "yellow", "failed": "red",
                            "missing": "red"}.get(outcome, ""))
