"""The scenario file format as one JSON Schema: `scenario.schema.json` with each check kind's own
schema (from `spotctl.guide.checks`) under `$defs.check.properties`.

Validation always uses the document built here, so a new kind needs no edit of the JSON file to work.
Editors read the file itself (`# yaml-language-server: $schema=...` in each scenario), so
`python -m spotctl.guide.schema` rewrites it from the kinds, and a test says when it is stale.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

FILE = "scenario.schema.json"
COMMON_CHECK_KEYS = ("within", "since", "capture")  # every check may carry these beside its kind


def stored() -> dict[str, Any]:
    """The schema file as it is on disk."""
    data: dict[str, Any] = json.loads(resources.files("spotctl.guide").joinpath(FILE).read_text(encoding="utf-8"))
    return data


@cache
def document() -> dict[str, Any]:
    """The file's document with the check kinds' schemas as the registry declares them."""
    from spotctl.guide.checks import KINDS

    doc = copy.deepcopy(stored())
    check = doc["$defs"]["check"]
    common = {key: check["properties"][key] for key in COMMON_CHECK_KEYS}
    check["properties"] = {**common, **{name: kind.schema for name, kind in KINDS.items()}}
    return doc


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def write() -> Path:
    path = Path(str(resources.files("spotctl.guide").joinpath(FILE)))
    path.write_text(render(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {write()}")
