"""What one playlist edit changed (for version history) and how to undo it.

Tracks are a list of ids; an edit is summarised as added/removed entries with their indexes, or a
move when the same entries come back in another order.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def summarize(before: list[str], after: list[str]) -> dict[str, Any]:
    if Counter(before) == Counter(after):
        if before == after:
            return {"op": "none"}
        first = next(i for i, (b, a) in enumerate(zip(before, after, strict=True)) if b != a)
        for track in (after[first], before[first]):
            src, dst = _index_moved(before, after, track, first)
            if src is not None and dst is not None:
                return {"op": "move", "track": track, "from": src, "to": dst}
        return {"op": "reorder", "before": before}
    added = Counter(after) - Counter(before)
    removed = Counter(before) - Counter(after)
    return {
        "op": "edit",
        "added": [{"track": t, "index": i} for i, t in enumerate(after) if added.get(t, 0) > 0
                  and _take(added, t)],
        "removed": [{"track": t, "index": i} for i, t in enumerate(before) if removed.get(t, 0) > 0
                    and _take(removed, t)],
    }


def _index_moved(before: list[str], after: list[str], track: str, first: int) -> tuple[int | None, int | None]:
    """(from, to) if moving one occurrence of `track` turns `before` into `after`."""
    src, dst = before.index(track, first), after.index(track, first)
    rest_b, rest_a = before[:src] + before[src + 1:], after[:dst] + after[dst + 1:]
    return (src, dst) if rest_b == rest_a else (None, None)


def _take(counter: Counter[str], item: str) -> bool:
    counter[item] -= 1
    return True


def inverse_ops(summary: dict[str, Any], current: list[str]) -> list[tuple[str, int, str]]:
    """Operations ("delete"|"insert", index, track) that undo `summary` against the current list."""
    ops: list[tuple[str, int, str]] = []
    tracks = list(current)
    if summary.get("op") == "move":
        if summary["track"] in tracks:
            i = tracks.index(summary["track"])
            ops.append(("delete", i, summary["track"]))
            tracks.pop(i)
            dest = min(summary["from"], len(tracks))
            ops.append(("insert", dest, summary["track"]))
        return ops
    for entry in reversed(summary.get("added", [])):
        if entry["track"] in tracks:
            i = len(tracks) - 1 - tracks[::-1].index(entry["track"])
            ops.append(("delete", i, entry["track"]))
            tracks.pop(i)
    for entry in summary.get("removed", []):
        dest = min(entry["index"], len(tracks))
        ops.append(("insert", dest, entry["track"]))
        tracks.insert(dest, entry["track"])
    return ops
