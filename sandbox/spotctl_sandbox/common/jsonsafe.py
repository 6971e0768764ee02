"""What JSON may carry into the stack, checked where it enters (API bodies, queue payloads, hub frames).

Python's `json` reads `NaN`, `Infinity` and `1e999` as floats that a JavaScript client's
`JSON.parse` cannot read back, and strings with NUL or lone surrogates that PostgreSQL refuses (a
500 deep in a handler). `find_unsafe` walks a decoded value without recursion (a document nested
thousands deep is fine) and names the first bad field, so the caller can answer with a clear error.
Pure functions, no I/O.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["UnsafeJson", "Unsafe", "find_unsafe", "loads_safe", "text_problem"]


@dataclass(frozen=True)
class Unsafe:
    """The first field that cannot be accepted: its path from the root and why."""

    path: tuple[str | int, ...]
    reason: str

    def field(self, root: str = "") -> str:
        """`root.a.0.b` style, the way error messages name fields."""
        return ".".join(str(p) for p in ((root,) if root else ()) + self.path) or "(document)"


class UnsafeJson(ValueError):
    """A JSON document was well-formed but carries a value the stack refuses."""

    def __init__(self, unsafe: Unsafe, root: str = "") -> None:
        super().__init__(f"{unsafe.field(root)}: {unsafe.reason}")
        self.unsafe = unsafe


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored (NUL, lone surrogate), or None."""
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (a lone surrogate is not)"
    return None


def find_unsafe(value: Any) -> Unsafe | None:
    """The first non-finite number or unstorable string (keys included) in a decoded JSON value."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return Unsafe(path, f"must be a finite number, not {item!r} (NaN and Infinity are not JSON)")
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return Unsafe(path, problem)
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                problem = text_problem(str(key))
                if problem:
                    return Unsafe(path, f"has a key that {problem}")
                stack.append(((*path, str(key)), child))
        elif isinstance(item, list | tuple):
            stack.extend(((*path, i), child) for i, child in reversed(list(enumerate(item))))
    return None


def loads_safe(data: str | bytes, root: str = "") -> Any:
    """json.loads plus `find_unsafe`: ValueError (json.JSONDecodeError or UnsafeJson) if either fails.

    RecursionError from a document nested too deep is reported as a ValueError too."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    unsafe = find_unsafe(value)
    if unsafe is not None:
        raise UnsafeJson(unsafe, root)
    return value
