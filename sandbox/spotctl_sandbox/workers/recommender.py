"""Item-to-item co-occurrence recommendations, computed from listening history (pure, no I/O).

Two songs are similar when the same listeners play both (cosine over listener sets). A user's
candidates are scored by summing their similarity to what the user already played, weighted by how
often the user played it; songs the user knows are excluded. With no overlap at all (a new user, a
niche taste), the most-played songs fill the list so the answer is never empty while songs exist.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Play:
    user_id: str
    song_id: str


@dataclass(frozen=True)
class Recommendation:
    user_id: str
    song_ids: tuple[str, ...]
    scores: tuple[float, ...]
    #: "co-occurrence" when similarity produced every entry, "popular" when the list is only
    #: popularity fill, "mixed" when similarity produced some and popularity the rest; the worker
    #: says "segment" when the fill came first from the user's behaviour segment (recommendations.py).
    method: str


def recommend(user_id: str, plays: Iterable[Play], limit: int = 10,
              popular: Iterable[str] = ()) -> Recommendation:
    """Rank songs for `user_id` from everybody's plays; at most `limit` of them.

    `popular` (most played first, e.g. from the catalogue's play counts) extends the fill when the
    plays themselves do not hold enough songs.
    """
    if limit <= 0:
        raise ValueError("limit must be positive")
    listeners: dict[str, set[str]] = defaultdict(set)  # song -> users who played it
    user_counts: Counter[str] = Counter()  # the target user's songs -> times played
    total_plays: Counter[str] = Counter()  # song -> plays by everybody
    for play in plays:
        listeners[play.song_id].add(play.user_id)
        total_plays[play.song_id] += 1
        if play.user_id == user_id:
            user_counts[play.song_id] += 1

    scores: dict[str, float] = defaultdict(float)
    for known, times in user_counts.items():
        known_listeners = listeners[known] - {user_id}
        if not known_listeners:
            continue
        for candidate, candidate_listeners in listeners.items():
            if candidate in user_counts:
                continue
            both = len(known_listeners & candidate_listeners)
            if both:
                cosine = both / math.sqrt(len(listeners[known]) * len(candidate_listeners))
                scores[candidate] += cosine * math.log1p(times)

    # Ties break on popularity, then on id, so the answer is stable for equal inputs.
    ranked = sorted(scores, key=lambda s: (-scores[s], -total_plays[s], s))[:limit]
    picked = [(song, round(scores[song], 6)) for song in ranked]
    if len(picked) < limit:
        taken = set(ranked) | set(user_counts)
        fill = sorted((s for s in total_plays if s not in taken), key=lambda s: (-total_plays[s], s))
        fill += [s for s in dict.fromkeys(popular) if s not in taken and s not in total_plays]
        picked += [(song, 0.0) for song in fill[: limit - len(picked)]]

    method = "popular" if not ranked else ("co-occurrence" if len(ranked) == len(picked) else "mixed")
    return Recommendation(
        user_id=user_id,
        song_ids=tuple(song for song, _ in picked),
        scores=tuple(score for _, score in picked),
        method=method,
    )
