"""`hub:` a user received a frame on the real-time hub (since the action, unless `since: any`): of a type,
with matching fields, holding list elements, or several in a given order; or a user's replica of a
collaborative playlist holds exactly these tracks.

The frames are the ones the run's hub users (`Stores.actors`) received over their connections, so a
check reads what a real client would have shown: "bob saw alice typing", "carol got CRITICAL first",
"both editors see the merged playlist".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from spotctl.guide.checks.base import Kind, Spec, Verdict, element_matches, short
from spotctl.guide.template import MissingValue, lookup, matches, same

if TYPE_CHECKING:
    from spotctl.guide.stores import Stores

Frame = Mapping[str, Any]


class Hub(Kind):
    name = "hub"
    schema = {
        "type": "object", "additionalProperties": False, "required": ["user"],
        "properties": {
            "user": {"type": "string", "minLength": 1, "description": "Whose connection (a hub action's `as`)."},
            "type": {"type": "string", "minLength": 1, "description": "The frame's type, e.g. chat_message."},
            "match": {"type": "object", "description": "`path: value` in the frame: content.text, topic, ..."},
            "has": {"type": "object", "description": "`path: [elements]`: a list in the frame holding them all."},
            "order": {"type": "array", "minItems": 2,
                      "description": "The matching frames' `field`, in arrival order, is exactly this."},
            "field": {"type": "string", "minLength": 1},
            "playlist": {"type": "string", "minLength": 1, "description": "A playlist the user opened..."},
            "tracks": {"type": "array", "items": {"type": "string"},
                       "description": "...whose replica must hold exactly these tracks, in this order."},
        },
        "dependentRequired": {"order": ["field"], "playlist": ["tracks"], "tracks": ["playlist"]},
    }

    def describe(self, spec: Spec) -> str:
        if "playlist" in spec:
            return f"{spec['user']}'s copy of playlist {spec['playlist']} is {short(spec['tracks'])}"
        what = f"a {spec['type']} frame" if spec.get("type") else "a frame"
        text = f"{spec['user']} received {what}"
        if spec.get("match"):
            text += f" with {short(spec['match'])}"
        if spec.get("has"):
            text += f" holding {short(spec['has'])}"
        if spec.get("order"):
            text = f"{spec['user']} received {spec.get('type', 'frame')}s with {spec['field']} in the order " \
                   f"{short(spec['order'])}"
        return text

    def look(self, spec: Spec) -> str:
        return f"spotctl hub connect --user {spec['user']} --raw"

    async def before(self, stores: Stores, spec: Spec, since_action: bool) -> dict[str, int]:
        """How many frames each user had before the action (the spec's user may be a template yet)."""
        return {name: len(actor.frames) for name, actor in stores.actors.items()} if since_action else {}

    async def observe(self, stores: Stores, spec: Spec, before: dict[str, int]) -> Any:
        user = str(spec["user"])
        actor = stores.actors.get(user)
        if "playlist" in spec:
            peer = actor.peer if actor is not None else None
            return {"tracks": None if peer is None else peer.replica(str(spec["playlist"]))}
        return [] if actor is None else [dict(f) for f in actor.frames[before.get(user, 0):]]

    def judge(self, spec: Spec, seen: Any) -> Verdict:
        """`seen`: the user's frames since the action, in arrival order (or their playlist replica)."""
        if "playlist" in spec:
            tracks, wanted_tracks = seen["tracks"], [str(t) for t in spec["tracks"]]
            if tracks is None:
                return Verdict(False, f"{spec['user']} has not opened playlist {spec['playlist']}", seen, final=True)
            return Verdict(tracks == wanted_tracks, f"holds {short(tracks)}", seen)
        wanted = [f for f in seen if self._wanted(spec, f)]
        if spec.get("order"):
            return self._in_order(spec, seen, wanted)
        if wanted:
            frame = wanted[0]
            return Verdict(True, f"{frame.get('type')} {short(frame.get('content', {}), 100)}", frame)
        types = ", ".join(sorted({str(f.get("type")) for f in seen})) or "none"
        return Verdict(False, f"{len(seen)} frame(s) since the action ({types}), none matching", seen)

    @staticmethod
    def _wanted(spec: Spec, frame: Frame) -> bool:
        if spec.get("type") and frame.get("type") != spec["type"]:
            return False
        if spec.get("match") and not matches(spec["match"], frame):
            return False
        return all(holds(frame, path, elements) for path, elements in (spec.get("has") or {}).items())

    @staticmethod
    def _in_order(spec: Spec, seen: Sequence[Frame], wanted: list[Frame]) -> Verdict:
        order = list(spec["order"])
        values = []
        for frame in wanted:
            try:
                values.append(lookup(frame, str(spec["field"])))
            except MissingValue:
                values.append(None)
        if len(values) < len(order):
            return Verdict(False, f"{len(values)} of {len(order)} frame(s) so far: {short(values)}", seen)
        if len(values) == len(order) and all(same(a, b) for a, b in zip(order, values, strict=True)):
            return Verdict(True, f"in order: {short(values)}", wanted)
        return Verdict(False, f"arrived as {short(values)}", seen, final=len(values) >= len(order))


def holds(frame: Frame, path: str, elements: Any) -> bool:
    """The list at `path` holds every one of `elements` (a single value counts as a list of one)."""
    try:
        found = lookup(frame, path)
    except MissingValue:
        return False
    if not isinstance(found, list | tuple):
        return False
    wanted = elements if isinstance(elements, list | tuple) else [elements]
    return all(any(element_matches(e, item) for item in found) for e in wanted)


KIND = Hub()
