"""`mail:` the workers' SMTP sink received a mail (since the action) to, about or attaching something."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spotctl.guide.checks.base import Kind, Spec, Verdict

if TYPE_CHECKING:
    from spotctl.guide.stores import Stores


class Mail(Kind):
    name = "mail"
    schema = {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "properties": {"to": {"type": "string"}, "subject_contains": {"type": "string"},
                       "attachment": {"type": "string"}},
    }

    def describe(self, spec: Spec) -> str:
        return "the SMTP sink received a mail" + "".join(
            f" {label} {spec[k]!r}" for k, label in (("to", "to"), ("subject_contains", "about"),
                                                     ("attachment", "attaching")) if k in spec)

    def look(self, spec: Spec) -> str:
        return "spotctl logs workers"

    async def observe(self, stores: Stores, spec: Spec, before: float) -> list[dict[str, Any]]:
        return await stores.sink("/sinks/email", since=before)

    def judge(self, spec: Spec, seen: Any) -> Verdict:
        for m in seen:
            recipients = " ".join([str(m.get("to", "")), *m.get("rcpt_to", [])]).lower()
            if "to" in spec and spec["to"].lower() not in recipients:
                continue
            if "subject_contains" in spec and spec["subject_contains"] not in str(m.get("subject", "")):
                continue
            if "attachment" in spec and not any(spec["attachment"] in str(a) for a in m.get("attachments", [])):
                continue
            return Verdict(True, f"“{m.get('subject')}” to {m.get('to')}", m)
        return Verdict(False, f"{len(seen)} new mail(s), none matching", seen)


KIND = Mail()
