"""`file:` a file exists (e.g. a report a job wrote) and mentions some text."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from spotctl.guide.checks.base import Kind, Spec, Verdict

if TYPE_CHECKING:
    from spotctl.guide.stores import Stores

READ_LIMIT = 200_000  # characters read: enough to find a mention, bounded for big files


class File(Kind):
    name = "file"
    schema = {
        "type": "object", "additionalProperties": False, "required": ["path"],
        "properties": {"path": {"type": "string", "minLength": 1}, "contains": {"type": "string"}},
    }

    def describe(self, spec: Spec) -> str:
        return f"file {spec['path']} exists" + (f" and mentions {spec['contains']!r}" if "contains" in spec else "")

    async def observe(self, stores: Stores, spec: Spec, before: Any) -> dict[str, Any]:
        path = Path(str(spec["path"]))
        if not path.is_file():
            return {"path": str(path), "exists": False}
        text = path.read_text(encoding="utf-8", errors="replace")[:READ_LIMIT]
        return {"path": str(path), "exists": True, "size": path.stat().st_size, "text": text}

    def judge(self, spec: Spec, seen: Any) -> Verdict:
        if not seen["exists"]:
            return Verdict(False, f"no file {spec['path']}", seen)
        if "contains" in spec and spec["contains"] not in seen["text"]:
            return Verdict(False, f"{spec['path']} does not mention {spec['contains']!r}", seen)
        return Verdict(True, f"{seen['size']} bytes", seen)


KIND = File()
