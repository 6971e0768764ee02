"""BullMQ: queues with jobs per state (`spotctl jobs queues`); Enter lists a queue's jobs (failed ones
with their reason; `v` shows another state), `t` retries failed jobs and `c` cleans a state, each
after the CLI's question with the count."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding

from spotctl.inspect.jobs_view import COUNT_STATES, CleanState
from spotctl.inspect.values import cell
from spotctl.tui import brokers
from spotctl.tui.components.table_screen import Row, TableScreen
from spotctl.tui.data import Sources

SHOWN = ("failed", "waiting", "active", "delayed", "completed")  # what `v` cycles through
COLUMN_STATES = ("failed", "waiting", "active", "completed", "delayed", "prioritized", "waiting-children")


class JobsScreen(TableScreen):
    BINDINGS = [*TableScreen.BINDINGS, Binding("t", "retry_all", "Retry failed"),
                Binding("c", "clean", "Clean completed")]
    WRITES = frozenset({"retry_all", "clean"})
    COLUMNS = ("queue", "failed", "waiting", "active", "completed", "delayed", "prior.", "children", "paused")
    HEADING = "BullMQ queues"

    def fetch(self) -> list[Row]:
        assert set(COLUMN_STATES) == set(COUNT_STATES)
        return [(r["queue"], *(r[s] for s in COLUMN_STATES), "yes" if r["paused"] else "")
                for r in brokers.job_counts(self.sources)]

    def cells(self, row: Row) -> Sequence[Any]:
        name, failed, *rest = super().cells(row)
        return (name, Text(str(row[1]), style="bold red" if row[1] else ""), *rest)

    def drill(self, key: str) -> None:
        row = self.grid.selected_row()
        failed = bool(row and row[1])
        self.app.push_screen(JobListScreen(self.sources, key, "failed" if failed else "waiting"))

    def action_retry_all(self) -> None:
        if queue := self.selected_key():
            retry_all(self, queue)

    def action_clean(self) -> None:
        if queue := self.selected_key():
            clean(self, queue, "completed")


def retry_all(screen: TableScreen, queue: str) -> None:
    screen.confirmed(lambda: brokers.jobs_retry_question(screen.sources, queue),
                     lambda: f"{len(brokers.jobs_retry(screen.sources, queue, None))} job(s) of {queue} "
                             "back to waiting",
                     screen.action_refresh)


def clean(screen: TableScreen, queue: str, state: str) -> None:
    screen.confirmed(lambda: brokers.jobs_clean_question(screen.sources, queue, state),
                     lambda: f"removed {brokers.jobs_clean(screen.sources, queue, state)} {state} job(s) from {queue}",
                     screen.action_refresh)


class JobListScreen(TableScreen):
    """`spotctl jobs list QUEUE --state S` (`jobs failed QUEUE` for failed ones: with the reason)."""

    BINDINGS = [*TableScreen.BINDINGS, Binding("v", "next_state", "Other state"),
                Binding("t", "retry", "Retry job"), Binding("T", "retry_all", "Retry all"),
                Binding("c", "clean", "Clean state")]
    WRITES = frozenset({"retry", "retry_all", "clean"})
    COLUMNS = ("id", "name", "attempts", "finished", "reason / data")
    INTERVAL_S = 5.0

    def __init__(self, sources: Sources, queue: str, state: str) -> None:
        super().__init__(sources)
        self.queue, self.state = queue, state
        self.jobs: dict[str, dict[str, Any]] = {}
        self._title()

    def _title(self) -> None:
        self.HEADING = f"{self.state} jobs of {self.queue}, newest first"

    def fetch(self) -> list[Row]:
        jobs = brokers.jobs_in(self.sources, self.queue, self.state)
        self.jobs = {j["id"]: j for j in jobs}
        return [(j["id"], j["name"], f"{j['attempts_made']}/{j['attempts']}", j["finished"] or "",
                 cell(j["failed_reason"] if self.state == "failed" else j["data"], 80)) for j in jobs]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("retry", "retry_all") and self.state != "failed":
            return False
        if action == "clean" and self.state not in {s.value for s in CleanState}:
            return False
        return super().check_action(action, parameters)

    def action_next_state(self) -> None:
        self.state = SHOWN[(SHOWN.index(self.state) + 1) % len(SHOWN)] if self.state in SHOWN else SHOWN[0]
        self._title()
        self.refresh_bindings()
        self.action_refresh()

    def action_retry(self) -> None:
        job_id = self.selected_key()
        if job_id is None:
            return
        self.confirmed(lambda: f"retry failed job {job_id} of BullMQ queue {self.queue!r}",
                       lambda: f"job {', '.join(brokers.jobs_retry(self.sources, self.queue, [job_id]))} "
                               "back to waiting",
                       self.action_refresh)

    def action_retry_all(self) -> None:
        retry_all(self, self.queue)

    def action_clean(self) -> None:
        clean(self, self.queue, self.state)

    def drill(self, key: str) -> None:
        from spotctl.tui.components.detail import DetailScreen

        job = self.jobs.get(key)
        if job is not None:
            self.app.push_screen(DetailScreen(self.sources, f"job {key} of {self.queue}", {
                "name": job["name"], "attempts": f"{job['attempts_made']}/{job['attempts']}",
                "created": job["created"], "processed": job["processed"], "finished": job["finished"],
                "failed reason": job["failed_reason"], "stack trace": job["stacktrace"], "data": job["data"]}))
