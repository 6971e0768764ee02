"""Listening-session playback state on the server clock.

The host's controls turn into a new state stamped with the server time it takes effect; any device
computes where the track is *now* from (position_ms, updated_ms, playing), after correcting its own
clock with `time_sync`. So a late joiner starts at the right position, not at the last event's.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from enum import StrEnum


class Action(StrEnum):
    PLAY = "play"
    PAUSE = "pause"
    SEEK = "seek"
    SKIP = "skip"
    VOLUME = "volume"


@dataclass(frozen=True)
class PlaybackState:
    track_id: str | None = None
    playing: bool = False
    position_ms: float = 0.0  # position at updated_ms
    updated_ms: float = 0.0  # server clock, epoch milliseconds
    volume: float = 1.0
    version: int = 0

    def position_at(self, now_ms: float) -> float:
        if not self.playing:
            return self.position_ms
        return self.position_ms + max(0.0, now_ms - self.updated_ms)

    def apply(self, action: Action, now_ms: float, *, position_ms: float | None = None,
              volume: float | None = None, track_id: str | None = None) -> PlaybackState:
        """The state after the host's action at server time `now_ms`; ValueError if it cannot apply."""
        here = self.position_at(now_ms)
        step = replace(self, updated_ms=now_ms, version=self.version + 1, position_ms=here)
        if action is Action.PLAY:
            if (track_id or self.track_id) is None:
                raise ValueError("nothing to play: give a track_id or add to the queue")
            if track_id is not None and track_id != self.track_id:
                return replace(step, track_id=track_id, playing=True, position_ms=position_ms or 0.0)
            return replace(step, playing=True, position_ms=here if position_ms is None else position_ms)
        if action is Action.PAUSE:
            return replace(step, playing=False)
        if action is Action.SEEK:
            if position_ms is None:
                raise ValueError("seek needs position_ms")
            return replace(step, position_ms=position_ms)
        if action is Action.VOLUME:
            if volume is None:
                raise ValueError("volume needs volume (0-1)")
            return replace(step, volume=volume)
        # SKIP: the caller supplies the next track (popped from the shared queue) or None at the end.
        return replace(step, track_id=track_id, position_ms=0.0, playing=track_id is not None and self.playing)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> PlaybackState:
        return cls(**json.loads(raw)) if raw else cls()
