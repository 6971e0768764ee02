"""`redis:` a key exists (or not), has a type, a TTL within bounds, holds a value or an element."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from spotctl.guide.checks.base import Kind, Spec, Verdict, element_matches, short

if TYPE_CHECKING:
    from spotctl.guide.stores import Stores
    from spotctl.inspect.redis_view import KeyView

READ_LIMIT = 200  # elements read from a collection (sorted sets: the highest scores)


class Redis(Kind):
    name = "redis"
    schema = {
        "type": "object", "additionalProperties": False, "required": ["key"],
        "properties": {
            "key": {"type": "string", "minLength": 1},
            "exists": {"type": "boolean"},
            "type": {"enum": ["string", "list", "set", "zset", "hash", "stream"]},
            "ttl_max": {"type": "integer", "minimum": 1},
            "contains": {},
        },
    }

    def describe(self, spec: Spec) -> str:
        parts = [f"redis key {spec['key']} " + ("exists" if spec.get("exists", True) else "is absent")]
        if "type" in spec:
            parts.append(f"is a {spec['type']}")
        if "ttl_max" in spec:
            parts.append(f"expires within {spec['ttl_max']} s")
        if "contains" in spec:
            parts.append(f"holds {short(spec['contains'])}")
        return ", ".join(parts)

    def look(self, spec: Spec) -> str:
        return f"spotctl redis get {spec['key']}"

    async def observe(self, stores: Stores, spec: Spec, before: Any) -> dict[str, Any]:
        key = str(spec["key"])
        view = await asyncio.to_thread(lambda: stores.redis().key(key, READ_LIMIT))
        return observation(key, view)

    def judge(self, spec: Spec, seen: Any) -> Verdict:
        """`seen`: exists, type, ttl (-1 none, -2 absent), value (text, or a list of elements)."""
        key = spec["key"]
        if not spec.get("exists", True):
            return Verdict(not seen["exists"], "absent" if not seen["exists"] else f"{key} still exists", seen)
        if not seen["exists"]:
            return Verdict(False, f"no key {key}", seen)
        if "type" in spec and seen["type"] != spec["type"]:
            return Verdict(False, f"{key} is a {seen['type']}, not a {spec['type']}", seen, final=True)
        ttl = int(seen["ttl"])
        if "ttl_max" in spec and not 0 < ttl <= int(spec["ttl_max"]):
            what = "no TTL" if ttl < 0 else f"TTL {ttl} s"
            return Verdict(False, f"{key} has {what}, expected 1..{spec['ttl_max']} s", seen)
        if "contains" in spec:
            value = seen["value"]
            if isinstance(value, str):
                found = str(spec["contains"]) in value
            else:
                found = any(element_matches(spec["contains"], e) for e in value or ())
            if not found:
                return Verdict(False, f"{key} does not hold {short(spec['contains'])}", seen)
        ttl_text = f"TTL {ttl} s" if ttl > 0 else "no TTL"
        return Verdict(True, f"{seen['type']}, {ttl_text}", seen)


def observation(key: str, view: KeyView | None) -> dict[str, Any]:
    """What `judge` reads from a key as the Redis client returns it: elements as a flat list (sorted-set
    members without scores, hash fields as `field=value`)."""
    if view is None:
        return {"key": key, "exists": False, "type": "none", "ttl": -2, "value": None}
    value: Any = view.value
    if view.type == "zset":
        value = [m["member"] for m in view.value]
    elif view.type == "hash":
        value = [f"{k}={v}" for k, v in view.value.items()]
    return {"key": key, "exists": True, "type": view.type.value, "ttl": view.ttl, "value": value}


KIND = Redis()
