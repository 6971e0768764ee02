"""`http:` a request to the API (or the workers) answers the expected status and body fields.

The same request shape as a step's `http:` action (`#/$defs/http` in the schema); an action's answer
is judged here too (`actions.failure`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spotctl.guide.checks.base import Kind, Spec, Verdict, short
from spotctl.guide.template import matches

if TYPE_CHECKING:
    from spotctl.guide.stores import Stores


class Http(Kind):
    name = "http"
    schema = {"$ref": "#/$defs/http"}

    def describe(self, spec: Spec) -> str:
        return f"{spec.get('method', 'GET')} {spec['path']} answers" + (
            f" with {short(spec['expect'])}" if spec.get("expect") else f" {spec.get('status', '2xx')}")

    async def observe(self, stores: Stores, spec: Spec, before: Any) -> dict[str, Any]:
        from spotctl.guide.actions import send
        from spotctl.guide.parse import http_request

        return await send(stores, http_request(spec))

    def judge(self, spec: Spec, seen: Any) -> Verdict:
        status, want = int(seen["status"]), spec.get("status")
        if (want is not None and status != want) or (want is None and not 200 <= status < 300):
            return Verdict(False, f"answered {status}: {short(seen.get('body'))}", seen)
        expect = spec.get("expect") or {}
        if expect and not matches(expect, seen):
            return Verdict(False, f"answered {status} but without {short(expect)}: {short(seen.get('body'))}", seen)
        return Verdict(True, f"answered {status}", seen)


KIND = Http()
