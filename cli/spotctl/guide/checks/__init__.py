"""Every check kind a scenario's `verify:` may use, each one object in its own module.

To add a kind: a module here with a `Kind` subclass (schema, describe, look, observe, judge) and its
`KIND`, one entry in `KINDS` below, then `python -m spotctl.guide.schema` to refresh the schema file
editors read (a test says when it is stale).
"""

from __future__ import annotations

from collections.abc import Mapping

from spotctl.guide.checks import file, http, hub, job, kafka, mail, postgres, push, rabbit, redis
from spotctl.guide.checks.base import Kind, Verdict

KINDS: Mapping[str, Kind] = {k.name: k for k in (
    redis.KIND, kafka.KIND, job.KIND, postgres.KIND, mail.KIND, push.KIND, file.KIND, http.KIND, rabbit.KIND,
    hub.KIND,
)}

__all__ = ["KINDS", "Kind", "Verdict"]
