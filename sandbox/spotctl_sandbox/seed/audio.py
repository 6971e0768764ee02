"""Real, playable audio for the catalogue: a handful of short distinct WAV tunes in MEDIA_DIR.

Songs point at these files (many songs share one), so streaming serves real bytes a player can play
without shipping media in the repository. Writing is idempotent: an existing file of the right size
is left alone.
"""

from __future__ import annotations

import math
import os
import sys
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 22_050
# (file name, seconds, notes in Hz): a few arpeggios, each a different length and key.
TUNES: tuple[tuple[str, int, tuple[float, ...]], ...] = (
    ("tune-c-major.wav", 4, (261.63, 329.63, 392.00, 523.25)),
    ("tune-a-minor.wav", 5, (220.00, 261.63, 329.63, 440.00)),
    ("tune-g-major.wav", 6, (196.00, 246.94, 293.66, 392.00)),
    ("tune-e-minor.wav", 3, (164.81, 196.00, 246.94, 329.63)),
    ("tune-d-major.wav", 7, (293.66, 369.99, 440.00, 587.33)),
    ("tune-f-major.wav", 8, (174.61, 220.00, 261.63, 349.23)),
)


@dataclass(frozen=True)
class AudioFile:
    name: str
    duration_s: int
    size: int


def _frames(seconds: int, notes: tuple[float, ...]) -> bytes:
    per_note = SAMPLE_RATE * seconds // len(notes)
    ramp = 400  # samples of fade in/out, so notes do not click
    out = array("h")
    for note in notes:
        step = 2 * math.pi * note / SAMPLE_RATE
        samples = [int(12_000 * math.sin(step * i)) for i in range(per_note)]
        for i in range(ramp):
            samples[i] = samples[i] * i // ramp
            samples[-1 - i] = samples[-1 - i] * i // ramp
        out.extend(samples)
    if sys.byteorder != "little":
        out.byteswap()  # WAV is little-endian
    return out.tobytes()


def expected_size(seconds: int, notes: tuple[float, ...]) -> int:
    return 44 + 2 * (SAMPLE_RATE * seconds // len(notes)) * len(notes)


def ensure_audio(media_dir: Path) -> list[AudioFile]:
    """Write the tunes into `media_dir` unless already there; return them in TUNES order."""
    media_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for name, seconds, notes in TUNES:
        path = media_dir / name
        size = expected_size(seconds, notes)
        if not (path.exists() and path.stat().st_size == size):
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            with wave.open(str(tmp), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(SAMPLE_RATE)
                w.writeframes(_frames(seconds, notes))
            tmp.replace(path)
        files.append(AudioFile(name=name, duration_s=seconds, size=size))
    return files
