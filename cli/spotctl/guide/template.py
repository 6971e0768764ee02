"""`{{ name }}` / `{{ name.path.0 }}` templates, and the dotted paths used to capture values.

A string that is exactly one template keeps the value's type (so `song_ids: ["{{ song_id }}"]`
sends a number); inside longer text the value is formatted as text.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][\w.\-]*)\s*\}\}")


class MissingValue(LookupError):
    """A template names a variable nobody captured yet (or a path the value does not have)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def lookup(root: Any, path: str) -> Any:
    """`body.user.id` or `items.0.song_id` inside nested dicts and lists; MissingValue if absent."""
    value = root
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list | tuple) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(
                value):
            value = value[int(part)]
        else:
            raise MissingValue(path)
    return value


def names_in(value: Any) -> set[str]:
    """Variables (first path part) a value's templates use."""
    if isinstance(value, str):
        return {m.group(1).split(".")[0] for m in _TEMPLATE.finditer(value)}
    if isinstance(value, Mapping):
        return set().union(*(names_in(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(names_in(v) for v in value)) if value else set()
    return set()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def render(value: Any, variables: Mapping[str, Any]) -> Any:
    """`value` with every template replaced, through nested dicts and lists."""
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value.strip())
        if whole:
            return lookup(variables, whole.group(1))
        return _TEMPLATE.sub(lambda m: _text(lookup(variables, m.group(1))), value)
    if isinstance(value, Mapping):
        return {k: render(v, variables) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render(v, variables) for v in value]
    return value


def same(expected: Any, actual: Any) -> bool:
    """Loose equality for checks: `"42"` matches `42` (ids travel as text in some stores), `0` matches `0.0`."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual  # 0 matches 0.0 (a position the server keeps as a float)
    if isinstance(expected, int | float | str) and isinstance(actual, int | float | str):
        return str(expected) == str(actual)
    return bool(expected == actual)


COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "!=": operator.ne}


def is_comparison(expected: Any) -> bool:
    """`{">=": 60000, "<": 90000}`: bounds instead of a value (a position that moved on since)."""
    return isinstance(expected, Mapping) and bool(expected) and all(k in COMPARISONS for k in expected)


def compare(bounds: Mapping[str, Any], got: Any) -> bool:
    if isinstance(got, bool) or not isinstance(got, int | float):
        return False
    return all(COMPARISONS[op](got, limit) for op, limit in bounds.items())


def matches(pattern: Mapping[str, Any], value: Any) -> bool:
    """Every `path: expected` of `pattern` holds in `value` (`expected` may be bounds, see is_comparison)."""
    for path, expected in pattern.items():
        try:
            got = lookup(value, path)
        except MissingValue:
            return False
        if is_comparison(expected):
            if not compare(expected, got):
                return False
        elif isinstance(expected, Mapping):
            if not matches(expected, got):
                return False
        elif not same(expected, got):
            return False
    return True
