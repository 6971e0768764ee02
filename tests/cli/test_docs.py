"""What the docs tell a user to run exists, and what they say agrees with what spotctl says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "benchmarks").glob("*.py")),
        *sorted((ROOT / "loadtests").glob("*.py")), *sorted((ROOT / "scenarios").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_a_doc_sources_exists(doc: Path) -> None:
    sourced = re.findall(r"(?:^|[;&|]\s*|\s)(?:source|\.)\s+([\w./~-]+\.(?:sh|env|bash))\b", doc.read_text("utf-8"),
                         re.MULTILINE)
    missing = [s for s in sourced if not (ROOT / s).is_file()]
    assert missing == [], f"{doc.name} sources files that do not exist: {missing}"


def test_the_mongodb_messages_say_what_the_readme_says() -> None:
    """README: MongoDB runs when `mongod` is on PATH or MONGO_URL names a server, else the JSONB fallback."""
    from spotctl.clients.mongo import MongoClient
    from spotctl.errors import SpotctlError
    from spotctl.stack.drivers import Absent, mongo

    readme = " ".join((ROOT / "README.md").read_text("utf-8").split())
    assert "**MongoDB** runs when `mongod` is on PATH or `MONGO_URL` names a server" in readme
    with pytest.raises(SpotctlError) as client:
        MongoClient(None)
    absent = Absent("no mongod on PATH and no MONGO_URL", mongo.HINT)
    for said in (f"{client.value.message} {client.value.hint}", f"{absent.reason} {absent.hint}"):
        assert "mongod" in said and "PATH" in said and "MONGO_URL" in said and "--runtime docker" in said, said
        assert "JSONB fallback" in said and "installable" not in said, said
