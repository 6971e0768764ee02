"""`job:` a BullMQ job reached a state (completed by default); a job failed for good fails at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spotctl.guide.checks.base import Kind, Spec, Verdict

if TYPE_CHECKING:
    from spotctl.guide.stores import Stores

STATES = ["completed", "failed", "active", "waiting", "delayed", "prioritized"]


class Job(Kind):
    name = "job"
    schema = {
        "type": "object", "additionalProperties": False, "required": ["queue", "id"],
        "properties": {
            "queue": {"type": "string", "minLength": 1},
            "id": {"type": ["string", "integer"]},
            "state": {"enum": STATES},
        },
    }

    def describe(self, spec: Spec) -> str:
        return f"BullMQ job {spec['id']} on queue {spec['queue']} is {spec.get('state', 'completed')}"

    def look(self, spec: Spec) -> str | None:
        return f"spotctl jobs failed {spec['queue']}" if spec.get("state", "completed") == "completed" else None

    async def observe(self, stores: Stores, spec: Spec, before: Any) -> dict[str, Any] | None:
        found = await stores.jobs().job(str(spec["queue"]), str(spec["id"]))
        if found is None:
            return None
        # the names a scenario's `capture:` uses (BullMQ's own), e.g. returnvalue.path
        return {"id": found["id"], "name": found["name"], "state": found["state"],
                "returnvalue": found["returnvalue"], "failedReason": found["failed_reason"] or None,
                "attemptsMade": found["attempts_made"], "data": found["data"]}

    def judge(self, spec: Spec, seen: Any) -> Verdict:
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


KIND = Job()
