"""SVG snapshots of every screen at 80x24 and 160x48 (pytest-textual-snapshot), on fixed data.

What a screen reads comes from `spotctl.tui.data` and `spotctl.tui.brokers`; here those functions answer
fixed values, so a snapshot changes only when the layout does (no clocks, no live counters, no timers). The Pilot tests
in test_tui.py drive the same screens against the real stack. After a deliberate layout change:
`pytest tests/tui/test_snapshots.py --snapshot-update`, then look at the SVGs before committing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spotctl.inspect.alerts_view import AlertRow
from spotctl.inspect.metrics_view import KEY_SERIES
from spotctl.inspect.redis_view import KeyRow, KeyType, KeyView
from spotctl.stack.runtime import ServiceStatus, State
from spotctl.stack.usage import Usage

SMALL, LARGE = (80, 24), (160, 48)
SIZES = pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])

SERVICES = [
    ServiceStatus("redis", State.healthy, ("127.0.0.1:6379",), pid=101, restarts=0),
    ServiceStatus("postgres", State.healthy, ("127.0.0.1:5432",), pid=102, restarts=0),
    ServiceStatus("rabbitmq", State.healthy, ("127.0.0.1:5672", "127.0.0.1:15672"), pid=103, restarts=0),
    ServiceStatus("kafka", State.healthy, ("127.0.0.1:9092",), pid=104, restarts=1,
                  note="memory-only (tansu): topics are lost on restart"),
    ServiceStatus("mongo", State.absent, hint="put mongod on PATH, set MONGO_URL, or use --runtime docker",
                  required=False),
    ServiceStatus("api", State.healthy, ("127.0.0.1:8000",), pid=106, restarts=0,
                  extra={"playlists_backend": "postgres-jsonb"}),
    ServiceStatus("hub", State.starting, ("127.0.0.1:8765", "127.0.0.1:9765"), pid=107, restarts=0),
    ServiceStatus("workers", State.restarting, ("127.0.0.1:8001",), pid=108, note="stalled: 12 jobs waiting",
                  restarts=2, last_exit="exit code 1: redis unreachable"),
    ServiceStatus("gateway", State.stopped, ("127.0.0.1:8080",), hint="spotctl up gateway"),
]
USAGE = {"redis": Usage(0.7, 13 * 2**20), "postgres": Usage(1.5, 196 * 2**20), "rabbitmq": Usage(3.2, 140 * 2**20),
         "kafka": Usage(2.0, 18 * 2**20), "api": Usage(4.1, 100 * 2**20), "hub": Usage(0.0, 180 * 2**20),
         "workers": Usage(0.9, 78 * 2**20)}
KEYS = [KeyRow("playlists:user:7", "string", 213), KeyRow("recent:7", "list", -1),
        KeyRow("search:3f2a9c", "string", 41), KeyRow("song:42", "string", 3512),
        KeyRow("trending:songs", "zset", -1)]
QUEUES = [{"name": n, "ready": r, "unacked": u, "consumers": c, "publish_rate": i, "deliver_rate": o,
           "state": "running", "dead_letter_exchange": d}
          for n, r, u, c, i, o, d in [("notifications.delivery", 0, 1, 1, 2.4, 2.4, "dlx"),
                                      ("notifications.delivery.dlq", 3, 0, 0, 0.0, 0.0, None),
                                      ("recommendations.requests", 12, 2, 1, 5.0, 4.5, "dlx"),
                                      ("recommendations.requests.dlq", 0, 0, 0, 0.0, 0.0, None)]]
TOPICS = [{"topic": t, "partitions": 4, "messages": m, "offsets": [{"partition": p, "earliest": 0, "latest": m // 4}
                                                                  for p in range(4)]}
          for t, m in [("hub_activity", 96), ("playlist_created", 8), ("search_performed", 40), ("song_played", 812)]]
JOBS = [{"queue": q, "paused": False, "waiting": w, "active": a, "delayed": d, "prioritized": 0,
         "waiting-children": 0, "completed": c, "failed": f}
        for q, w, a, d, c, f in [("email", 0, 0, 0, 14, 0), ("notifications", 2, 1, 0, 120, 3),
                                 ("recently-played", 0, 0, 0, 812, 0), ("reports", 0, 0, 1, 3, 0)]]
HUB_STATS = {"health": {"status": "ok", "workers": 2, "ready": 2, "restarts": 0},
             "workers": [{"worker": "0", "connections": 41, "subscriptions": 18, "in_per_s": 12.0, "out_per_s": 96.0},
                         {"worker": "1", "connections": 39, "subscriptions": 17, "in_per_s": 9.0, "out_per_s": 88.0}],
             "total": {"connections": 80, "in_per_s": 21.0, "out_per_s": 184.0},
             "delivery": {"p50_ms": 1.8, "p99_ms": 12.4, "window": "interval"}}
HUB_TOPICS = [{"topic": "chat:3", "kind": "public", "name": "general", "members": 12, "workers": 2},
              {"topic": "chat:2", "kind": "private", "name": "band-practice", "members": 4, "workers": 1},
              {"topic": "room:lobby", "kind": "room", "name": "lobby", "members": None, "workers": 2},
              {"topic": "ls:0a70f3bc7fc6", "kind": "ls", "name": "0a70f3bc7fc6", "members": None, "workers": 1}]
TABLES = [{"schema": "public", "table": t, "rows": r, "bytes": b, "rows_exact": False}
          for t, r, b in [("hub_channels", 6, 40960), ("hub_messages", 1290, 270336), ("listening_history", 812, 98304),
                          ("playlists", 14, 24576), ("songs", 200, 49152), ("users", 52, 24576)]]

NOW_BY_UNIT = {"/s": 42.5, "ratio": 0.12, "s": 0.0124, "bytes": 3.2 * 2**20, "": 12.0}
METRICS = [(what, NOW_BY_UNIT[unit], [NOW_BY_UNIT[unit] * ((i * 7 + k * 3) % 11) / 10 for k in range(30)], unit)
           for i, (what, _, unit) in enumerate(KEY_SERIES)]


def alerts() -> list[AlertRow]:
    """A firing, a pending and a silenced alert; ages a few seconds clear of a minute's edge."""
    now = dt.datetime.now(dt.UTC)
    return [AlertRow("RedisDown", "firing", "critical", now - dt.timedelta(minutes=6, seconds=30),
                     {"service": "redis"}, "redis is not answering its exporter"),
            AlertRow("HubDeliveryP99High", "pending", "warning", now - dt.timedelta(minutes=2, seconds=30),
                     {"service": "hub"}, "hub delivery p99 above 50 ms"),
            AlertRow("DeadLettersWaiting", "silenced", "warning", now - dt.timedelta(hours=1, minutes=4, seconds=30),
                     {"queue": "notifications.delivery.dlq"}, "3 message(s) in a dead-letter queue",
                     ("5b1e0c2a",))]


@pytest.fixture
def fixed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Any]:
    """`fixed(start="rabbit")`: the app on fixed data, no timers, NO_COLOR unset unless asked."""
    from spotctl import project
    from spotctl.endpoints import Endpoints
    from spotctl.stack.local import LocalRuntime
    from spotctl.tui import brokers, data
    from spotctl.tui.app import SpotctlApp
    from spotctl.tui.components.table_screen import TableScreen

    answers: dict[str, Callable[..., Any]] = {
        "statuses": lambda src: SERVICES, "usage": lambda src, services: USAGE,
        "redis_keys": lambda src, pattern: (KEYS, False),
        "redis_value": lambda src, key: KeyView(key, KeyType.string, 3512, 61,
                                                '{"id": 42, "title": "Heroes", "artist": "David Bowie"}',
                                                truncated=False),
        "hub_stats": lambda src, interval=1.0: HUB_STATS, "hub_topics": lambda src, ns="default": HUB_TOPICS,
        "pg_tables": lambda src: TABLES, "key_metrics": lambda src: METRICS, "alert_rows": lambda src: alerts(),
        "doc_store": lambda src: ("PostgreSQL JSONB, the fallback (no MongoDB in this runtime)",
                                  [{"name": "playlists", "count": 14, "indexes": []}]),
    }
    for name, answer in answers.items():
        monkeypatch.setattr(data, name, answer)
    queues: dict[str, Callable[..., Any]] = {
        "rabbit_queues": lambda src: QUEUES, "kafka_topics": lambda src: TOPICS, "job_counts": lambda src: JOBS}
    for name, answer in queues.items():
        monkeypatch.setattr(brokers, name, answer)
    every = TableScreen.set_interval

    def hourly_refresh(screen: Any, interval: float, callback: Any = None, **kwargs: Any) -> Any:
        """No refresh in the middle of a snapshot: the tables' timers wait an hour."""
        slow = getattr(callback, "__name__", "") == "action_refresh"
        return every(screen, 3600 if slow else interval, callback, **kwargs)

    monkeypatch.setattr(TableScreen, "set_interval", hourly_refresh)

    def make(start: str = "services", read_only: bool = False, no_color: bool = False) -> SpotctlApp:
        if no_color:
            monkeypatch.setenv("NO_COLOR", "1")
        else:
            monkeypatch.delenv("NO_COLOR", raising=False)
        sources = data.Sources(runtime=LocalRuntime(project.current()), endpoints=Endpoints(env={}),
                               state_dir=tmp_path)
        return SpotctlApp(sources, start=start, read_only=read_only)

    return make


async def settle(pilot: Any) -> None:
    """Every worker done and its message shown; no cursor blinking."""
    from textual.widgets import Input

    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False
    await pilot.pause()


def keys(*presses: str) -> Callable[[Any], Any]:
    async def run(pilot: Any) -> None:
        await settle(pilot)
        for key in presses:
            await pilot.press(key)
            await settle(pilot)

    return run


@SIZES
@pytest.mark.parametrize("screen", ["services", "redis", "rabbit", "kafka", "jobs", "scenarios", "metrics", "alerts",
                                    "hub", "pg", "docs", "load"])
def test_each_screen(snap_compare: Any, fixed: Callable[..., Any], screen: str, size: tuple[int, int]) -> None:
    assert snap_compare(fixed(screen), terminal_size=size, run_before=keys())


@SIZES
def test_a_scenario_step_by_step(snap_compare: Any, fixed: Callable[..., Any], size: tuple[int, int]) -> None:
    async def open_search(pilot: Any) -> None:
        await settle(pilot)
        pilot.app.open_scenario("search")
        await settle(pilot)

    assert snap_compare(fixed("scenarios"), terminal_size=size, run_before=open_search)


def test_services_without_colour_keep_their_states_apart(snap_compare: Any, fixed: Callable[..., Any]) -> None:
    assert snap_compare(fixed("services", no_color=True), terminal_size=SMALL, run_before=keys())


def test_the_help_lists_this_screens_keys(snap_compare: Any, fixed: Callable[..., Any]) -> None:
    assert snap_compare(fixed("rabbit"), terminal_size=SMALL, run_before=keys("question_mark"))


def test_read_only_leaves_no_action_in_the_footer(snap_compare: Any, fixed: Callable[..., Any]) -> None:
    assert snap_compare(fixed("rabbit", read_only=True), terminal_size=SMALL, run_before=keys())


def test_command_mode_says_what_it_does_not_know(snap_compare: Any, fixed: Callable[..., Any]) -> None:
    assert snap_compare(fixed("redis"), terminal_size=SMALL, run_before=keys("colon", "x", "enter"))


def test_a_destructive_action_asks_with_the_count(snap_compare: Any, fixed: Callable[..., Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from spotctl.inspect import questions
    from spotctl.tui import brokers

    monkeypatch.setattr(brokers, "rabbit_purge_question",
                        lambda src, queue: questions.purge_queue(queue, 12))
    assert snap_compare(fixed("rabbit"), terminal_size=SMALL, run_before=keys("down", "down", "p"))


# --- analytics: a tenant's plays with the forecast band and anomalies, the model registry -------------

T0 = 1_796_191_200  # 2026-12-02 06:00 UTC
ANALYTICS = {
    "series": {"series": [{"tags": {}, "points": [[T0 + 60 * i, 20 + (i * 7) % 9 + (30 if i == 140 else 0)]
                                                  for i in range(180)]}]},
    "forecast": {"confidence": 0.9, "points": [{"at": T0 + 3600 * (3 + h), "value": 60.0 * (24 + 2 * h),
                                                "lower": 60.0 * (19 + 2 * h), "upper": 60.0 * (30 + 2 * h)}
                                               for h in range(4)]},
    "anomalies": [{"tenant": "sim-north", "minute": T0 + 140 * 60, "anomaly_score": 0.7761,
                   "reasons": ["plays +190%", "errors +4000%"], "model_version": 3, "source": "live"},
                  {"tenant": "sim-north", "minute": "2026-12-01T21:14:00+00:00", "anomaly_score": 0.6912,
                   "reasons": ["plays -71%"], "model_version": 2, "source": "scan"}],
    "models": [{"name": "anomaly_detector", "version": v, "status": s, "created_at": "2026-12-02T05:00:00+00:00",
                "tenants": ["sim-north", "sim-south"], "metrics": {"precision": 0.79, "recall": 0.6}}
               for v, s in ((3, "promoted"), (2, "retired"), (1, "retired"))]
    + [{"name": "predictive_analytics", "version": 1, "status": "promoted", "created_at": "2026-12-01T06:30:00+00:00",
        "tenants": ["sim-north"], "metrics": {"plays": {"model_mape": 6.4, "seasonal_naive_mape": 8.7}}}],
}
NOT_TRAINED = {"series": ANALYTICS["series"], "models": [],
               "forecast_error": "model 'predictive_analytics' is not trained yet: train it with "
                                 "`spotctl analytics train predictive_analytics`"}


def analytics_on(monkeypatch: pytest.MonkeyPatch, answers: dict[str, Any]) -> None:
    from spotctl.inspect.analytics_view import overview
    from spotctl.tui import data

    monkeypatch.setattr(data, "analytics_overview",
                        lambda src, tenant, metric, span: overview(tenant, metric, span, answers))


@SIZES
def test_the_analytics_screen(snap_compare: Any, fixed: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
                              size: tuple[int, int]) -> None:
    analytics_on(monkeypatch, ANALYTICS)
    assert snap_compare(fixed("analytics"), terminal_size=size, run_before=keys())


def test_analytics_says_which_model_to_train(snap_compare: Any, fixed: Callable[..., Any],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    analytics_on(monkeypatch, NOT_TRAINED)
    assert snap_compare(fixed("analytics"), terminal_size=SMALL, run_before=keys())
