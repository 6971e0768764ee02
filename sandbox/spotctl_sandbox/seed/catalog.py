"""The seed catalogue as plain rows, generated deterministically (same size in, same rows out).

Fixed ids below 1,000,000 (runtime rows start above, see schema.sql) and fixed timestamps are what
make re-seeding idempotent: every row has the same key on every run.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from spotctl_sandbox.seed.audio import AudioFile

MAX_SEED_ID = 999_999
HISTORY_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
GENRES = ("pop", "rock", "jazz", "hip-hop", "electronic", "folk", "classical", "soul", "metal", "indie")
_ADJ = ("Silver", "Midnight", "Electric", "Golden", "Velvet", "Neon", "Crimson", "Hollow", "Quiet",
        "Wild", "Paper", "Broken", "Northern", "Lucky", "Burning", "Frozen", "Secret", "Lonely")
_NOUN = ("River", "Echo", "Harbor", "Garden", "Signal", "Mirror", "Canyon", "Comet", "Lantern", "Shadow",
         "Orchid", "Thunder", "Avenue", "Island", "Desert", "Season", "Satellite", "Horizon")
_VERB = ("Dancing", "Falling", "Running", "Waiting", "Dreaming", "Calling", "Fading", "Drifting")


@dataclass(frozen=True)
class SeedSize:
    songs: int
    users: int

    @property
    def artists(self) -> int:
        return max(1, self.songs // 20)

    @property
    def albums(self) -> int:
        return max(1, self.songs // 10)

    def check(self) -> None:
        if not 1 <= self.songs <= MAX_SEED_ID:
            raise ValueError(f"--songs must be between 1 and {MAX_SEED_ID:,}, got {self.songs}")
        if not 1 <= self.users <= MAX_SEED_ID:
            raise ValueError(f"--users must be between 1 and {MAX_SEED_ID:,}, got {self.users}")


def _name(rng: random.Random, *parts: Sequence[str]) -> str:
    return " ".join(rng.choice(p) for p in parts)


def artists(size: SeedSize) -> Iterator[tuple[int, str, str]]:
    rng = random.Random(1)
    for i in range(1, size.artists + 1):
        yield i, f"{_name(rng, _ADJ, _NOUN)}s {i}", GENRES[i % len(GENRES)]


def albums(size: SeedSize) -> Iterator[tuple[int, int, str, int]]:
    rng = random.Random(2)
    for i in range(1, size.albums + 1):
        yield i, album_artist(size, i), _name(rng, _ADJ, _NOUN), 1970 + i % 56


def album_artist(size: SeedSize, album_id: int) -> int:
    return (album_id - 1) % size.artists + 1


def songs(size: SeedSize, media: Sequence[AudioFile], artist_names: dict[int, str],
          album_titles: dict[int, str]) -> Iterator[tuple[object, ...]]:
    """(id, title, artist_id, album_id, artist, album, duration_s, audio_path, mime_type)."""
    rng = random.Random(3)
    for i in range(1, size.songs + 1):
        album_id = (i - 1) % size.albums + 1
        artist_id = album_artist(size, album_id)
        audio = media[i % len(media)]
        title = f"{_name(rng, _VERB, _ADJ, _NOUN)}"
        yield (i, title, artist_id, album_id, artist_names[artist_id], album_titles[album_id],
               audio.duration_s, audio.name, "audio/wav")


def users(size: SeedSize, password_hash: str) -> Iterator[tuple[int, str, str, str]]:
    for i in range(1, size.users + 1):
        yield i, f"user{i}@seed.spotctl.dev", f"Seed User {i}", password_hash


def follows(size: SeedSize, per_user: int = 5) -> Iterator[tuple[int, int]]:
    rng = random.Random(4)
    for user_id in range(1, size.users + 1):
        for artist_id in sorted(rng.sample(range(1, size.artists + 1), min(per_user, size.artists))):
            yield user_id, artist_id


def history(size: SeedSize, per_user: int = 30) -> Iterator[tuple[int, int, datetime]]:
    """Plays skewed towards low song ids, so trending and recommendations have structure."""
    rng = random.Random(5)
    for user_id in range(1, size.users + 1):
        for n in range(per_user):
            song_id = min(size.songs, int(rng.paretovariate(1.2)) + rng.randrange(0, 50))
            yield user_id, song_id, HISTORY_EPOCH + timedelta(minutes=user_id * 1000 + n * 7)
