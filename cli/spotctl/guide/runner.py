"""Run a scenario's steps against the stack: render, act, capture, verify (polling), record progress.

The CLI and the TUI drive the same `Runner`; they differ only in how they show its events.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from spotctl.clients.reach import short
from spotctl.endpoints import Endpoints
from spotctl.errors import ServiceDown, SpotctlError
from spotctl.guide import actions, progress, template
from spotctl.guide.checks import KINDS, Verdict
from spotctl.guide.model import Action, Check, CheckResult, Outcome, Scenario, Service, Step, StepResult, outcome
from spotctl.guide.stores import Stores

POLL_INTERVAL_S = 0.25
HEALTH_PATH = "/health"  # every service's health answer (the hub's on its metrics port)


@dataclass(frozen=True)
class StepStarted:
    number: int
    step: Step


@dataclass(frozen=True)
class CheckWaiting:
    """A check did not hold at first look: it is polled for up to `within_s` (workers are asynchronous).
    A terminal shows a spinner until the step finishes."""

    number: int
    description: str
    within_s: float


@dataclass(frozen=True)
class StepFinished:
    result: StepResult


Event = StepStarted | CheckWaiting | StepFinished
Listener = Callable[[Event], None]
BeforeStep = Callable[[int, Step], Awaitable[bool]]  # False stops the run


class StepProblem(Exception):
    """The step cannot go on (its action failed, a variable is missing): an `error` outcome."""


class Runner:
    def __init__(self, scenario: Scenario, endpoints: Endpoints, state_dir: Path,
                 listener: Listener | None = None) -> None:
        self.scenario = scenario
        self.endpoints = endpoints
        self.state_dir = state_dir
        self.listener = listener or (lambda event: None)

    async def preflight(self) -> None:
        """Every service the scenario needs answers its health check, or one ServiceDown line."""
        import httpx

        async with httpx.AsyncClient(timeout=5) as client:
            for service in self.scenario.requires:
                base = {Service.api: self.endpoints.api_url, Service.workers: self.endpoints.workers_url,
                        Service.hub: self.endpoints.hub_metrics_url,
                        Service.analytics: self.endpoints.analytics_url}[service]
                url = base.rstrip("/") + HEALTH_PATH
                try:
                    resp = await client.get(url)
                except httpx.HTTPError as exc:
                    raise ServiceDown(service.value, base, short(exc) or type(exc).__name__) from None
                if resp.status_code != 200:
                    raise ServiceDown(service.value, base, f"health answered {resp.status_code}")

    async def run(self, start: int = 1, only: bool = False, before_step: BeforeStep | None = None,
                  now: dt.datetime | None = None) -> list[StepResult]:
        """Steps from `start` (just that one with `only`) until the end or the first failure."""
        await self.preflight()
        state = progress.load(self.state_dir, self.scenario.name)
        variables = progress.start_variables(self.scenario, state, start, now or dt.datetime.now(dt.UTC))
        if start == 1:
            state = progress.Progress()
        results: list[StepResult] = []
        async with Stores(self.endpoints) as stores:
            for number in progress.plan(len(self.scenario.steps), start, only):
                step = self.scenario.steps[number - 1]
                if before_step is not None and not await before_step(number, step):
                    break
                self.listener(StepStarted(number, step))
                result, variables = await self.run_step(stores, number, variables)
                state = state.after(result, variables, time.time())
                progress.save(self.state_dir, self.scenario.name, state)
                results.append(result)
                self.listener(StepFinished(result))
                if not result.passed:
                    break
        return results

    async def run_step(self, stores: Stores, number: int,
                       variables: Mapping[str, Any]) -> tuple[StepResult, dict[str, Any]]:
        step = self.scenario.steps[number - 1]
        started = time.monotonic()
        values = dict(variables)
        befores: list[Any] = []  # each check's `before`, taken just before the action
        described = answer_line = ""
        try:
            action = self._render(step.action, values, number) if step.action else None
            for check in step.checks:
                try:
                    befores.append(await KINDS[check.kind].before(stores, check.spec, check.since_action))
                except Exception as exc:  # Kafka down: say so in one line, as for any other store
                    raise StepProblem(f"could not read {check.kind} before the action "
                                      f"({short(exc) or type(exc).__name__}); is it up? `spotctl health`") from None
            if action is not None:
                described = actions.describe(action)
                answer = await self._act(stores, action)
                answer_line = actions.summary(action, answer)
                problem = actions.failure(action, answer)
                if problem:
                    raise StepProblem(problem)
                values.update(self._capture(step.capture, answer, "the action's answer"))
            checks = []
            for check, before in zip(step.checks, befores, strict=True):
                result, captured = await self._verify(stores, check, values, before, number)
                checks.append(result)
                values.update(captured)
        except StepProblem as exc:
            return StepResult(number, step.title, Outcome.error, time.monotonic() - started, described,
                              answer_line, hint=self._filled(step.hint, values), error=str(exc)), values
        finally:
            for check, before in zip(step.checks, befores, strict=False):
                await KINDS[check.kind].after(before)
        captured = {k: values[k] for k in values if k not in variables or variables[k] != values[k]}
        return StepResult(number, step.title, outcome(checks), time.monotonic() - started, described, answer_line,
                          tuple(checks), captured, hint=self._filled(step.hint, values),
                          explore=tuple(self._filled(c, values) for c in step.explore)), values

    @staticmethod
    def _filled(text: str, values: Mapping[str, Any]) -> str:
        """Hints and explore commands with this run's values; left as written if one is missing."""
        try:
            return str(template.render(text, values))
        except template.MissingValue:
            return text

    def _render(self, value: Any, values: Mapping[str, Any], number: int) -> Any:
        """Render templates in a value or a dataclass of values; a missing variable says who sets it."""
        import dataclasses

        try:
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                fields = {f.name: template.render(v, values) for f in dataclasses.fields(value)
                          if isinstance(v := getattr(value, f.name), str | list | tuple | Mapping)
                          and not isinstance(v, Enum)}
                return dataclasses.replace(value, **fields)
            return template.render(value, values)
        except template.MissingValue as exc:
            name = exc.name.split(".")[0]
            if name not in values:
                source = self.scenario.step_capturing(name)
                fix = (f"; run step {source} first: spotctl scenario run {self.scenario.name} --step {source}"
                       if source and source < number else "")
                raise StepProblem(f"no value for {{{{ {name} }}}}{fix}") from None
            raise StepProblem(f"{{{{ {exc.name} }}}}: {name} has no such field") from None

    async def _act(self, stores: Stores, action: Action) -> dict[str, Any]:
        import httpx

        try:
            return await actions.run(stores, action)
        except httpx.HTTPError as exc:
            service = getattr(action, "service", Service.api)
            raise StepProblem(f"{service.value} did not answer ({short(exc) or type(exc).__name__}); "
                              f"is it up? `spotctl up {service.value}`") from None
        except SpotctlError as exc:  # the hub or Redis down, a playlist edited before it was opened
            raise StepProblem(exc.message + (f" ({exc.hint})" if exc.hint else "")) from None

    @staticmethod
    def _capture(capture: Mapping[str, str], source: Any, what: str) -> dict[str, Any]:
        captured = {}
        for name, path in capture.items():
            try:
                captured[name] = template.lookup(source, path)
            except template.MissingValue:
                raise StepProblem(f"capture {name}: {what} has no {path}") from None
        return captured

    async def _verify(self, stores: Stores, check: Check, values: Mapping[str, Any], before: Any,
                      number: int) -> tuple[CheckResult, dict[str, Any]]:
        kind = KINDS[check.kind]
        spec = self._render(dict(check.spec), values, number)
        deadline = time.monotonic() + check.within_s
        waiting = False
        while True:
            try:
                verdict = kind.judge(spec, await kind.observe(stores, spec, before))
            except Exception as exc:  # a store down or answering oddly: a failed check, not a traceback
                verdict = Verdict(False, f"could not read {kind.name}: {short(exc) or type(exc).__name__}")
            if verdict.ok or verdict.final or time.monotonic() >= deadline:
                break
            if not waiting:
                waiting = True
                self.listener(CheckWaiting(number, kind.describe(spec), check.within_s))
            await asyncio.sleep(POLL_INTERVAL_S)
        captured = self._capture(check.capture, verdict.observed, f"the {kind.name} check") if verdict.ok else {}
        return CheckResult(kind.name, kind.describe(spec), verdict.ok, verdict.detail, verdict.observed,
                           kind.look(spec)), captured
