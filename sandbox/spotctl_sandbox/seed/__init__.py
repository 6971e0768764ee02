"""`spotctl seed`: artists, albums, songs, users, follows and listening history, plus real audio.

Idempotent: fixed ids and COPY-then-insert-if-new mean a re-run adds only what is missing.
Seeded users all share the password SEED_PASSWORD (hashed once per run, argon2).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from argon2 import PasswordHasher

from spotctl_sandbox.db import migrate
from spotctl_sandbox.seed import catalog
from spotctl_sandbox.seed.audio import AudioFile, ensure_audio
from spotctl_sandbox.seed.catalog import SeedSize
from spotctl_sandbox.seed.loader import count, upsert_rows

__all__ = ["SEED_PASSWORD", "SeedReport", "SeedSize", "TableCount", "ensure_audio", "seed"]

SEED_PASSWORD = "spotctl-seed"


@dataclass(frozen=True)
class TableCount:
    table: str
    inserted: int
    total: int


@dataclass(frozen=True)
class SeedReport:
    tables: tuple[TableCount, ...]
    media: tuple[AudioFile, ...]
    media_dir: Path
    elapsed_s: float


def seed(database_url: str, media_dir: Path, songs: int = 10_000, users: int | None = None) -> SeedReport:
    """Create (or complete) the catalogue; raises ValueError for bad sizes, psycopg errors for the DB."""
    size = SeedSize(songs=songs, users=users if users is not None else max(10, songs // 100))
    size.check()
    started = time.perf_counter()
    media = ensure_audio(media_dir)
    password_hash = PasswordHasher().hash(SEED_PASSWORD)
    artist_rows = list(catalog.artists(size))
    album_rows = list(catalog.albums(size))
    artist_names = {r[0]: r[1] for r in artist_rows}
    album_titles = {r[0]: r[2] for r in album_rows}
    plan: list[tuple[str, tuple[str, ...], Iterable[tuple[Any, ...]]]] = [
        ("artists", ("id", "name", "genre"), artist_rows),
        ("albums", ("id", "artist_id", "title", "release_year"), album_rows),
        ("songs", ("id", "title", "artist_id", "album_id", "artist", "album", "duration_s", "audio_path",
                   "mime_type"), catalog.songs(size, media, artist_names, album_titles)),
        ("users", ("id", "email", "name", "password_hash"), catalog.users(size, password_hash)),
        ("follows", ("user_id", "artist_id"), catalog.follows(size)),
        ("listening_history", ("user_id", "song_id", "played_at"), catalog.history(size)),
    ]
    counts = []
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        migrate(conn)
        with conn.transaction():
            for table, columns, rows in plan:
                inserted = upsert_rows(conn, table, columns, rows)
                counts.append((table, inserted))
        totals = {table: count(conn, table) for table, _ in counts}
        conn.execute("ANALYZE songs")
    return SeedReport(tables=tuple(TableCount(t, n, totals[t]) for t, n in counts), media=tuple(media),
                      media_dir=media_dir, elapsed_s=time.perf_counter() - started)
