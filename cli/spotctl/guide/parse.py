"""Scenario YAML -> frozen `Scenario`, or one clear error naming the file and the field at fault.

The shape is checked by `scenario.schema.json` (editors can use it too); what a schema cannot say
(one check kind per check, variables used before any step captures them) is checked here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spotctl.errors import UsageError
from spotctl.guide import schema, template
from spotctl.guide.checks import KINDS
from spotctl.guide.model import (
    Action,
    Check,
    CommandAction,
    HttpRequest,
    HubAction,
    Scenario,
    Service,
    Step,
)

BUILTIN_VARS = ("run", "today", "yesterday", "now")  # set by the runner for every run


class ScenarioError(UsageError):
    """A scenario file that cannot be used as written."""


def field_path(parts: Sequence[Any]) -> str:
    """['steps', 2, 'verify', 0] -> 'steps[3].verify[1]' (numbers as people count them)."""
    out = ""
    for part in parts:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _validate(doc: Any, source: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema.document())
    errors = sorted(validator.iter_errors(doc), key=lambda e: (len(e.absolute_path), list(map(str, e.path))))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        raise ScenarioError(f"{source}: {field_path(list(error.absolute_path))}: {error.message}",
                            hint="see cli/spotctl/guide/scenario.schema.json for the format")


def http_request(raw: Mapping[str, Any]) -> HttpRequest:
    return HttpRequest(method=raw.get("method", "GET"), path=raw["path"], service=Service(raw.get("service", "api")),
                       json=raw.get("json"), query=dict(raw.get("query", {})), auth=raw.get("auth"),
                       headers=dict(raw.get("headers", {})),
                       status=raw.get("status"), expect=dict(raw.get("expect", {})))


def _action(raw: Mapping[str, Any] | None) -> Action | None:
    if raw is None:
        return None
    if "http" in raw:
        return http_request(raw["http"])
    if "hub" in raw:
        hub = raw["hub"]
        if "do" in hub:
            return HubAction(tuple(dict(op) for op in hub["do"]), together=bool(hub.get("together", False)))
        return HubAction((dict(hub),))
    return CommandAction(tuple(raw["spotctl"]))


def _check(raw: Mapping[str, Any], where: str) -> Check:
    kinds = [k for k in raw if k not in schema.COMMON_CHECK_KEYS]
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        raise ScenarioError(f"{where}: a check names exactly one kind ({', '.join(KINDS)}); found {found}")
    kind = kinds[0]
    return Check(kind=kind, spec=dict(raw[kind]), within_s=float(raw.get("within", 10.0)),
                 capture=dict(raw.get("capture", {})), since_action=raw.get("since", "action") == "action")


def _check_variables(scenario: Scenario, source: str) -> None:
    """A template may only use a builtin, a `vars:` entry, or a value an earlier step captured."""
    known = set(BUILTIN_VARS) | set(scenario.variables)
    for number, step in enumerate(scenario.steps, 1):
        used = template.names_in(_step_templates(step))
        own = set(step.capture) | {n for c in step.checks for n in c.capture}  # a check may use an earlier one's
        unknown = sorted(used - known - own)
        for name in unknown:
            later = scenario.step_capturing(name)
            why = f"it is captured only by step {later}" if later else "no step captures it"
            raise ScenarioError(f"{source}: steps[{number}] uses {{{{ {name} }}}} but {why}",
                                hint="capture it in an earlier step or declare it under `vars:`")
        known |= own


def _step_templates(step: Step) -> list[Any]:
    values: list[Any] = [dict(c.spec) for c in step.checks] + list(step.explore)
    if isinstance(step.action, HttpRequest):
        a = step.action
        values += [a.path, a.json, dict(a.query), a.auth, dict(a.headers), dict(a.expect)]
    elif isinstance(step.action, CommandAction):
        values += list(step.action.args)
    elif isinstance(step.action, HubAction):
        values += [dict(op) for op in step.action.ops]
    return values


def parse(doc: Any, name: str, source: str) -> Scenario:
    """A parsed YAML document -> Scenario; `name` is the file's stem."""
    if not isinstance(doc, Mapping):
        raise ScenarioError(f"{source}: expected a mapping with title, summary and steps, got {type(doc).__name__}")
    _validate(doc, source)
    if doc.get("name", name) != name:
        raise ScenarioError(f"{source}: name: {doc['name']!r} differs from the file name {name!r}",
                            hint="rename the file or drop `name:`")
    steps = []
    for i, raw in enumerate(doc["steps"], 1):
        checks = tuple(_check(c, f"{source}: steps[{i}].verify[{j}]") for j, c in enumerate(raw.get("verify", []), 1))
        steps.append(Step(title=raw["title"], text=raw["text"].strip(), action=_action(raw.get("action")),
                          capture=dict(raw.get("capture", {})), checks=checks, hint=raw["hint"].strip(),
                          explore=tuple(raw.get("explore", ()))))
    scenario = Scenario(name=name, title=doc["title"], summary=doc["summary"].strip(),
                        requires=tuple(Service(s) for s in doc.get("requires", ["api"])),
                        variables=dict(doc.get("vars", {})), steps=tuple(steps), source=source)
    _check_variables(scenario, source)
    return scenario


def parse_text(text: str, name: str, source: str) -> Scenario:
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(f"{source}:{where}: not valid YAML ({problem})") from None
    return parse(doc, name, source)
