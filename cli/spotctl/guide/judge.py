"""Does what was observed satisfy a check? Pure functions: observation in, verdict out.

The runner observes (I/O) and asks here, again and again until the check's `within` runs out,
so a verdict also says when waiting longer cannot help (`final`, e.g. a job that failed for good).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spotctl.guide.model import CheckKind, CheckResult, Outcome
from spotctl.guide.template import matches, same


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: str
    observed: Any = None  # what `capture:` paths read from
    final: bool = False  # True: polling again cannot change a failure


def outcome(checks: Sequence[CheckResult]) -> Outcome:
    """A step whose action succeeded passes when every check held."""
    return Outcome.passed if all(c.ok for c in checks) else Outcome.failed


def describe(kind: CheckKind, spec: Mapping[str, Any]) -> str:
    """One line saying what must hold, shown next to PASS/FAIL."""
    s = spec
    match kind:
        case CheckKind.redis:
            parts = [f"redis key {s['key']} " + ("exists" if s.get("exists", True) else "is absent")]
            if "type" in s:
                parts.append(f"is a {s['type']}")
            if "ttl_max" in s:
                parts.append(f"expires within {s['ttl_max']} s")
            if "contains" in s:
                parts.append(f"holds {_short(s['contains'])}")
            return ", ".join(parts)
        case CheckKind.kafka:
            return f"kafka topic {s['topic']} got a record" + (f" with {_short(s['match'])}" if s.get("match") else "")
        case CheckKind.job:
            return f"BullMQ job {s['id']} on queue {s['queue']} is {s.get('state', 'completed')}"
        case CheckKind.postgres:
            return f"postgres: {' '.join(str(s['sql']).split())[:90]} returns ≥ {s.get('min_rows', 1)} row(s)"
        case CheckKind.mail:
            return "the SMTP sink received a mail" + "".join(
                f" {label} {s[k]!r}" for k, label in (("to", "to"), ("subject_contains", "about"),
                                                      ("attachment", "attaching")) if k in s)
        case CheckKind.push:
            return "the push webhook received a push" + "".join(
                f" {label} {s[k]!r}" for k, label in (("user_id", "for user"), ("title_contains", "titled"),
                                                      ("body_contains", "saying")) if k in s)
        case CheckKind.file:
            return f"file {s['path']} exists" + (f" and mentions {s['contains']!r}" if "contains" in s else "")
        case CheckKind.http:
            return f"{s.get('method', 'GET')} {s['path']} answers" + (
                f" with {_short(s['expect'])}" if s.get("expect") else f" {s.get('status', '2xx')}")
        case CheckKind.rabbit:
            return f"rabbitmq queue {s['queue']} has ≥ {s.get('min_consumers', 1)} consumer(s)"
    raise AssertionError(kind)


def look_command(kind: CheckKind, spec: Mapping[str, Any]) -> str | None:
    """The spotctl command that shows what a check looks at: printed next to a FAIL, so the learner
    inspects the store themselves instead of guessing."""
    s = spec
    match kind:
        case CheckKind.redis:
            return f"spotctl redis get {s['key']}"
        case CheckKind.kafka:
            return f"spotctl kafka tail {s['topic']} -n 5"
        case CheckKind.job:
            return f"spotctl jobs failed {s['queue']}" if s.get("state", "completed") == "completed" else None
        case CheckKind.rabbit:
            return "spotctl rabbit queues"
        case CheckKind.mail | CheckKind.push:
            return "spotctl logs workers"
    return None


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _element_matches(expected: Any, element: Any) -> bool:
    """A list/set element: equal as text, or (JSON objects) holding the expected fields."""
    if isinstance(expected, Mapping):
        if isinstance(element, str):
            try:
                element = json.loads(element)
            except ValueError:
                return False
        return isinstance(element, Mapping) and matches(expected, element)
    return same(expected, element)


def redis(spec: Mapping[str, Any], seen: Mapping[str, Any]) -> Verdict:
    """`seen`: exists, type, ttl (-1 none, -2 absent), value (str | list | {member: score} | {field: value})."""
    key = spec["key"]
    if not spec.get("exists", True):
        return Verdict(not seen["exists"], "absent" if not seen["exists"] else f"{key} still exists", seen)
    if not seen["exists"]:
        return Verdict(False, f"no key {key}", seen)
    if "type" in spec and seen["type"] != spec["type"]:
        return Verdict(False, f"{key} is a {seen['type']}, not a {spec['type']}", seen, final=True)
    ttl = int(seen["ttl"])
    if "ttl_max" in spec and not 0 < ttl <= int(spec["ttl_max"]):
        what = "no TTL" if ttl < 0 else f"TTL {ttl} s"
        return Verdict(False, f"{key} has {what}, expected 1..{spec['ttl_max']} s", seen)
    if "contains" in spec:
        value = seen["value"]
        if isinstance(value, str):
            found = str(spec["contains"]) in value
        else:
            found = any(_element_matches(spec["contains"], e) for e in value)
        if not found:
            return Verdict(False, f"{key} does not hold {_short(spec['contains'])}", seen)
    ttl_text = f"TTL {ttl} s" if ttl > 0 else "no TTL"
    return Verdict(True, f"{seen['type']}, {ttl_text}", seen)


def kafka(spec: Mapping[str, Any], records: list[Mapping[str, Any]]) -> Verdict:
    """`records`: read since the offsets taken before the action, each with partition, offset, value."""
    pattern = spec.get("match") or {}
    for record in records:
        value = record.get("value")
        if not pattern or (isinstance(value, Mapping) and matches(pattern, value)):
            return Verdict(True, f"partition {record['partition']} offset {record['offset']}", record)
    return Verdict(False, f"{len(records)} new record(s) on {spec['topic']}, none with {_short(pattern)}",
                   records)


def job(spec: Mapping[str, Any], seen: Mapping[str, Any] | None) -> Verdict:
    """`seen`: state, returnvalue, failedReason, attemptsMade (None: no such job)."""
    want = spec.get("state", "completed")
    if seen is None:
        return Verdict(False, f"no job {spec['id']} on queue {spec['queue']}")
    state = seen.get("state")
    if state == want:
        return Verdict(True, f"{state} after {seen.get('attemptsMade', 0)} attempt(s)", seen)
    if state == "failed":
        return Verdict(False, f"failed: {seen.get('failedReason') or 'no reason given'}", seen, final=True)
    return Verdict(False, f"job is {state}", seen)


def postgres(spec: Mapping[str, Any], rows: list[Mapping[str, Any]]) -> Verdict:
    need = int(spec.get("min_rows", 1))
    observed = {"rows": rows, "row": rows[0] if rows else None}
    if len(rows) < need:
        return Verdict(False, f"{len(rows)} row(s), expected ≥ {need}", observed)
    expect = spec.get("expect") or {}
    if expect and not (rows and matches(expect, rows[0])):
        return Verdict(False, f"first row {_short(dict(rows[0]) if rows else None)} lacks {_short(expect)}", observed)
    return Verdict(True, f"{len(rows)} row(s)", observed)


def mail(spec: Mapping[str, Any], messages: list[Mapping[str, Any]]) -> Verdict:
    for m in messages:
        recipients = " ".join([str(m.get("to", "")), *m.get("rcpt_to", [])]).lower()
        if "to" in spec and spec["to"].lower() not in recipients:
            continue
        if "subject_contains" in spec and spec["subject_contains"] not in str(m.get("subject", "")):
            continue
        if "attachment" in spec and not any(spec["attachment"] in str(a) for a in m.get("attachments", [])):
            continue
        return Verdict(True, f"“{m.get('subject')}” to {m.get('to')}", m)
    return Verdict(False, f"{len(messages)} new mail(s), none matching", messages)


def push(spec: Mapping[str, Any], records: list[Mapping[str, Any]]) -> Verdict:
    for r in records:
        p = r.get("payload") or {}
        if "user_id" in spec and not same(spec["user_id"], p.get("user_id")):
            continue
        if "title_contains" in spec and spec["title_contains"] not in str(p.get("title", "")):
            continue
        if "body_contains" in spec and spec["body_contains"] not in str(p.get("body", "")):
            continue
        return Verdict(True, f"“{p.get('title')}: {p.get('body')}” for user {p.get('user_id')}", r)
    return Verdict(False, f"{len(records)} new push(es), none matching", records)


def file(spec: Mapping[str, Any], seen: Mapping[str, Any]) -> Verdict:
    if not seen["exists"]:
        return Verdict(False, f"no file {spec['path']}", seen)
    if "contains" in spec and spec["contains"] not in seen["text"]:
        return Verdict(False, f"{spec['path']} does not mention {spec['contains']!r}", seen)
    return Verdict(True, f"{seen['size']} bytes", seen)


def http(spec: Mapping[str, Any], seen: Mapping[str, Any]) -> Verdict:
    status, want = int(seen["status"]), spec.get("status")
    if (want is not None and status != want) or (want is None and not 200 <= status < 300):
        return Verdict(False, f"answered {status}: {_short(seen.get('body'))}", seen)
    expect = spec.get("expect") or {}
    if expect and not matches(expect, seen):
        return Verdict(False, f"answered {status} but without {_short(expect)}: {_short(seen.get('body'))}", seen)
    return Verdict(True, f"answered {status}", seen)


def rabbit(spec: Mapping[str, Any], seen: Mapping[str, Any] | None) -> Verdict:
    if seen is None:
        return Verdict(False, f"no queue {spec['queue']}")
    need = int(spec.get("min_consumers", 1))
    consumers = int(seen.get("consumers") or 0)
    if consumers < need:
        return Verdict(False, f"{consumers} consumer(s), expected ≥ {need}", seen)
    return Verdict(True, f"{consumers} consumer(s), {seen.get('messages', 0)} message(s) waiting", seen)


JUDGES: Mapping[CheckKind, Callable[[Mapping[str, Any], Any], Verdict]] = {
    CheckKind.redis: redis, CheckKind.kafka: kafka, CheckKind.job: job, CheckKind.postgres: postgres,
    CheckKind.mail: mail, CheckKind.push: push, CheckKind.file: file, CheckKind.http: http,
    CheckKind.rabbit: rabbit,
}
