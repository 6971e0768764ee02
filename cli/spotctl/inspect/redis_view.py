"""What `spotctl redis` shows, computed from raw server replies (no connection here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from spotctl.inspect.values import human_bytes, human_duration, human_ttl, percent, ratio
from spotctl_sandbox import contract

APP_HIT_KEY = contract.CACHE_HIT_KEY  # counters the API bumps on its song cache
APP_MISS_KEY = contract.CACHE_MISS_KEY


class KeyRow(NamedTuple):
    """One key as a listing shows it."""

    key: str
    type: str
    ttl: int  # seconds; -1 no expiry, -2 gone


class KeyType(StrEnum):
    string = "string"
    hash = "hash"
    list = "list"
    set = "set"
    zset = "zset"
    stream = "stream"
    none = "none"


def summarize_info(info: Mapping[str, Any], app_hits: int, app_misses: int) -> dict[str, Any]:
    """The INFO fields people look at: memory, clients, keyspace hit rate, and the app's own cache rate."""
    hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
    dbs = {name: {"keys": int(v.get("keys", 0)), "expires": int(v.get("expires", 0))}
           for name, v in info.items() if name.startswith("db") and isinstance(v, Mapping)}
    return {
        "server": {"version": info.get("redis_version"), "uptime_s": int(info.get("uptime_in_seconds", 0)),
                   "ops_per_sec": int(info.get("instantaneous_ops_per_sec", 0))},
        "memory": {"used_bytes": int(info.get("used_memory", 0)),
                   "peak_bytes": int(info.get("used_memory_peak", 0)),
                   "max_bytes": int(info.get("maxmemory", 0)),
                   "policy": info.get("maxmemory_policy"),
                   "fragmentation_ratio": info.get("mem_fragmentation_ratio")},
        "clients": {"connected": int(info.get("connected_clients", 0)),
                    "blocked": int(info.get("blocked_clients", 0))},
        "keyspace": {"hits": hits, "misses": misses, "hit_rate": ratio(hits, misses),
                     "evicted": int(info.get("evicted_keys", 0)), "expired": int(info.get("expired_keys", 0)),
                     "dbs": dbs},
        "app_cache": {"hits": app_hits, "misses": app_misses, "hit_rate": ratio(app_hits, app_misses)},
    }


_SUMMED = ("used_memory", "used_memory_peak", "maxmemory", "connected_clients", "blocked_clients", "keyspace_hits",
           "keyspace_misses", "evicted_keys", "expired_keys", "instantaneous_ops_per_sec")


def summarize_cluster(state: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]], app_hits: int,
                      app_misses: int) -> dict[str, Any]:
    """`summarize_info` of a Redis Cluster: its masters' INFO summed (each holds its own slots' keys; a
    replica only copies them), with CLUSTER INFO's state and one entry per node, masters first."""
    masters = {name: info for name, info in nodes.items() if info.get("role") == "master"}
    merged: dict[str, Any] = {**next(iter(masters.values()), {}), "mem_fragmentation_ratio": None}
    merged.update({f: sum(int(i.get(f, 0)) for i in masters.values()) for f in _SUMMED})
    merged["uptime_in_seconds"] = min((int(i.get("uptime_in_seconds", 0)) for i in nodes.values()), default=0)
    merged["db0"] = {k: sum(int(i.get("db0", {}).get(k, 0)) for i in masters.values()) for k in ("keys", "expires")}
    summary = summarize_info(merged, app_hits, app_misses)
    summary["cluster"] = {"state": state.get("cluster_state"), "slots_ok": int(state.get("cluster_slots_ok", 0)),
                          "slots_assigned": int(state.get("cluster_slots_assigned", 0)),
                          "masters": len(masters), "replicas": len(nodes) - len(masters)}
    summary["nodes"] = [{"node": name, "role": info.get("role"), "used_bytes": int(info.get("used_memory", 0)),
                         "keys": int(info.get("db0", {}).get("keys", 0)),
                         "clients": int(info.get("connected_clients", 0))}
                        for name, info in sorted(nodes.items(), key=lambda n: (n[0] not in masters, n[0]))]
    return summary


def info_rows(s: Mapping[str, Any]) -> list[tuple[str, str]]:
    mem, ks, app = s["memory"], s["keyspace"], s["app_cache"]
    rows = _cluster_rows(s) + [
        ("version", str(s["server"]["version"])),
        ("uptime", human_duration(s["server"]["uptime_s"])),
        ("ops/s", str(s["server"]["ops_per_sec"])),
        ("memory used", human_bytes(mem["used_bytes"])),
        ("memory peak", human_bytes(mem["peak_bytes"])),
        ("maxmemory", human_bytes(mem["max_bytes"]) if mem["max_bytes"] else "unlimited"),
        ("eviction policy", str(mem["policy"])),
        ("clients", f"{s['clients']['connected']} connected, {s['clients']['blocked']} blocked"),
        ("keyspace hit rate", f"{percent(ks['hit_rate'])} ({ks['hits']} hits, {ks['misses']} misses)"),
        ("app cache hit rate", f"{percent(app['hit_rate'])} ({app['hits']} hits, {app['misses']} misses)"),
        ("evicted / expired", f"{ks['evicted']} / {ks['expired']}"),
    ]
    rows += [(db, f"{v['keys']} keys, {v['expires']} with TTL") for db, v in ks["dbs"].items()]
    return rows


def _cluster_rows(s: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A cluster's state and its nodes, before the figures summed over its masters."""
    if "cluster" not in s:
        return []
    c = s["cluster"]
    rows = [("cluster", f"{c['state']}, {c['slots_ok']}/16384 slots ok, {c['masters']} masters, "
                        f"{c['replicas']} replicas")]
    rows += [(n["node"], f"{n['role']}, {human_bytes(n['used_bytes'])}, {n['keys']} keys, {n['clients']} clients")
             for n in s["nodes"]]
    return rows


@dataclass(frozen=True)
class KeyView:
    """One key as `get` shows it; `value` is already decoded and at most `limit` elements long."""

    key: str
    type: KeyType
    ttl: int
    length: int
    value: Any
    truncated: bool

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "type": self.type.value, "ttl": self.ttl, "length": self.length,
                "truncated": self.truncated, "value": self.value}

    def heading(self) -> str:
        more = f", showing {self._shown()}" if self.truncated else ""
        return f"{self.key}  ({self.type.value}, {self.length} {self._unit()}{more}, TTL {human_ttl(self.ttl)})"

    def columns(self) -> Sequence[str]:
        return _COLUMNS[self.type]

    def rows(self) -> list[tuple[Any, ...]]:
        if self.type is KeyType.string:
            return [(self.value,)]
        if self.type is KeyType.hash:
            return list(self.value.items())
        if self.type in (KeyType.list, KeyType.set):
            return list(enumerate(self.value))
        if self.type is KeyType.zset:
            return [(i + 1, m["member"], m["score"]) for i, m in enumerate(self.value)]
        return [(e["id"], e["fields"]) for e in self.value]

    def _unit(self) -> str:
        return "bytes" if self.type is KeyType.string else "entries"

    def _shown(self) -> int:
        return len(self.value)


_COLUMNS: dict[KeyType, Sequence[str]] = {
    KeyType.string: ("value",), KeyType.hash: ("field", "value"), KeyType.list: ("index", "value"),
    KeyType.set: ("#", "member"), KeyType.zset: ("rank", "member", "score"), KeyType.stream: ("id", "fields"),
}


def is_pattern(channel: str) -> bool:
    """Glob characters make `subscribe` use PSUBSCRIBE, like redis-cli users expect."""
    return any(ch in channel for ch in "*?[")
