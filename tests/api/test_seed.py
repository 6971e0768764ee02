"""`spotctl seed`: 10k songs in a fresh database in under 10 s, real WAV files, idempotent re-runs."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from spotctl_sandbox.seed import seed
from tests.support.databases import empty_database

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_db(api_env: dict[str, str]) -> Iterator[str]:
    """An empty database of this test's own on the same server."""
    with empty_database(api_env["DATABASE_URL"], "spotctl_seed_test") as url:
        yield url


def test_ten_thousand_songs_in_under_ten_seconds_then_nothing_new(fresh_db: str, tmp_path: Path) -> None:
    first = seed(fresh_db, tmp_path / "media", songs=10_000)

    assert first.elapsed_s < 10
    counts = {t.table: (t.inserted, t.total) for t in first.tables}
    assert counts["songs"] == (10_000, 10_000)
    assert counts["artists"] == (500, 500) and counts["albums"] == (1_000, 1_000)
    assert counts["users"] == (100, 100) and counts["follows"][0] > 0 and counts["listening_history"][0] > 0

    again = seed(fresh_db, tmp_path / "media", songs=10_000)
    assert all(t.inserted == 0 for t in again.tables)
    assert [t.total for t in again.tables] == [t.total for t in first.tables]


def test_songs_point_at_real_wav_files(fresh_db: str, tmp_path: Path) -> None:
    media = tmp_path / "media"
    seed(fresh_db, media, songs=50)
    with psycopg.connect(fresh_db) as conn:
        rows = conn.execute("SELECT audio_path, duration_s FROM songs").fetchall()
    for audio_path, duration_s in set(rows):
        with wave.open(str(media / audio_path)) as w:
            assert round(w.getnframes() / w.getframerate()) == duration_s


def test_cli_reports_json_and_refuses_bad_sizes(fresh_db: str, tmp_path: Path, api_env: dict[str, str]) -> None:
    env = {**api_env, "DATABASE_URL": fresh_db, "MEDIA_DIR": str(tmp_path / "media")}
    spotctl = [sys.executable, "-m", "spotctl"]
    ok = subprocess.run([*spotctl, "seed", "--songs", "40", "-o", "json"], env=env, cwd=ROOT,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["tables"]["songs"] == {"inserted": 40, "total": 40}
    bad = subprocess.run([*spotctl, "seed", "--songs", "0"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "--songs must be between 1 and 999,999" in bad.stderr
